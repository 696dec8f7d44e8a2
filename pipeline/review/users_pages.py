"""User administration for admins: list and add users (page and API)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel, Field
from sqlalchemy import select

from pipeline.cases.models import User
from pipeline.cases.users import ROLES, add_user
from pipeline.errors import CaseError
from pipeline.review.auth import csrf_protect, db, require
from pipeline.review.web import flash, render


class NewUser(BaseModel):
    name: str = Field(min_length=1, max_length=64)
    role: str = Field(pattern="^(" + "|".join(ROLES) + ")$")
    display_name: str = Field(default="", max_length=128)
    password: str = Field(min_length=8, max_length=1024)


def _list(request: Request) -> list[dict[str, Any]]:
    with db(request)() as s:
        return [
            {
                "id": u.id,
                "name": u.name,
                "display_name": u.display_name,
                "role": u.role,
                "disabled": u.disabled,
            }
            for u in s.scalars(select(User).order_by(User.name))
        ]


def _add(request: Request, new: NewUser) -> dict[str, Any]:
    with db(request).begin() as s:
        user = add_user(s, new.name, new.role, display_name=new.display_name, password=new.password)
        return {"id": user.id, "name": user.name, "display_name": user.display_name, "role": user.role}


def router(max_files: int) -> APIRouter:
    r = APIRouter()
    csrf = [Depends(csrf_protect(max_files))]
    admin = [Depends(require("admin"))]

    @r.get("/users", dependencies=admin, include_in_schema=False)
    def users_page(request: Request) -> Response:
        return render(request, "users.html", {"users": _list(request), "roles": ROLES})

    @r.post("/users", dependencies=admin + csrf, include_in_schema=False)
    def users_add(
        request: Request,
        name: Annotated[str, Form(max_length=64)],
        role: Annotated[str, Form(max_length=16)],
        password: Annotated[str, Form(max_length=1024)],
        display_name: Annotated[str, Form(max_length=128)] = "",
    ) -> Response:
        try:
            _add(request, NewUser(name=name, role=role, display_name=display_name, password=password))
        except (CaseError, ValueError) as err:
            flash(request, str(err).splitlines()[0], "error")
        else:
            flash(request, f"{name} ✓")
        return RedirectResponse("/users", status_code=303)

    @r.get("/api/users", dependencies=admin, tags=["users"])
    def users_api(request: Request) -> list[dict[str, Any]]:
        return _list(request)

    @r.post("/api/users", dependencies=admin + csrf, status_code=201, tags=["users"])
    def users_api_add(request: Request, new: NewUser) -> dict[str, Any]:
        try:
            return _add(request, new)
        except CaseError as err:
            raise HTTPException(409, str(err)) from err

    return r
