"""The case queue: sightings become cases once, with a lifecycle, an Open311 API, an outbox and exports.

Kept empty on purpose: `patrol` imports `pipeline.cases.commands` for every command, and SQLAlchemy
should load only for the commands that use the database. Entry points build the pieces from settings:

    from pipeline.cases.db import open_db
    from pipeline.cases.categories import load_categories
    from pipeline.cases.ingest import push_sightings

    sessions = open_db(settings.db_url)                    # engine + migrations
    with sessions.begin() as session:
        push_sightings(session, sightings, frames=coverage,
                       categories=load_categories(settings.categories_path), data_root=settings.data_root)
"""
