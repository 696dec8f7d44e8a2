"""The review web app: the morning queue, evidence, map and verdicts for enforcement staff.

`create_app(settings)` in `pipeline.review.app` builds it; `patrol review` serves it. Nothing is set up at
import time.
"""
