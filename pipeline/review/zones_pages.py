"""Exclusion zones in the review app: supervisors see every zone (imported or remembered from a rejected
case) and can remove one; a reviewer's "remember as legal" on a rejection is handled with the case's
actions (pipeline.review.pages)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import RedirectResponse, Response

from pipeline.cases import lifecycle, zones
from pipeline.errors import CaseError
from pipeline.review.auth import csrf_protect, db, require
from pipeline.review.i18n import translator
from pipeline.review.web import flash, render


def router(max_files: int) -> APIRouter:
    r = APIRouter()
    csrf = [Depends(csrf_protect(max_files))]
    supervisor = Depends(require("supervisor"))

    @r.get("/zones", include_in_schema=False)
    def zones_page(request: Request, viewer: object = supervisor) -> Response:
        with db(request)() as s:
            rows = [
                {
                    "id": z.id,
                    "name": z.name,
                    "reason": z.reason,
                    "class_name": z.class_name,
                    "source_case_id": z.source_case_id,
                    "created_by": z.created_by,
                    "created_at": z.created_at,
                    "removed": z.removed_at is not None,
                    "removed_by": z.removed_by,
                }
                for z in zones.list_zones(s, include_removed=True)
            ]
        return render(request, "zones.html", {"zones": rows})

    @r.post("/zones/{zone_id}/remove", dependencies=csrf, include_in_schema=False)
    def zone_remove(request: Request, zone_id: int, viewer: object = supervisor) -> Response:
        t = translator(request.state.lang)
        name = getattr(viewer, "name", "")
        try:
            with db(request).begin() as s:
                zones.remove_zone(s, zone_id, name, lifecycle.utcnow())
        except CaseError as err:
            raise HTTPException(404 if "no zone" in err.reason else 409, err.reason) from err
        flash(request, t("zones.removed", id=zone_id))
        return RedirectResponse("/zones", status_code=303)

    return r
