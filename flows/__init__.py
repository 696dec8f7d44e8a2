"""Prefect flows: thin tasks around pipeline functions. The only package that imports Prefect."""
