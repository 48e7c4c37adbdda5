"""The caller's organization (SPEC.md §9): its members, and invitations only its owners may send."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request

from .auth import Principal, current_user
from .errors import ApiError
from .models import AUTH_ERRORS, InviteInfo, InviteRequest, MemberInfo, MemberList, error_responses

router = APIRouter(tags=["org"])
User = Annotated[Principal, Depends(current_user)]


def owner_required(org_id: str) -> ApiError:
    return ApiError(403, "owner_required", f"Only an owner of organization {org_id} can do this; ask one of its owners")


@router.post(
    "/api/org/invites", response_model=InviteInfo, status_code=201, responses=error_responses(*AUTH_ERRORS, 422)
)
def invite(body: InviteRequest, request: Request, principal: User) -> InviteInfo:
    """Invite `email` (role `member`, or `owner`): they become a member at their next sign-in to this org."""
    store = request.app.state.platform.store
    if store.role_of(principal.sub, principal.org_id) != "owner":
        raise owner_required(principal.org_id)
    store.invite(principal.org_id, body.email, body.role, invited_by=principal.sub)
    return InviteInfo(email=body.email.strip().lower(), role=body.role, orgId=principal.org_id)


@router.get("/api/org/members", response_model=MemberList, responses=error_responses(*AUTH_ERRORS))
def members(request: Request, principal: User) -> MemberList:
    """Who belongs to the caller's organization, and who is invited but has not signed in yet."""
    store = request.app.state.platform.store
    return MemberList(
        members=[MemberInfo(email=email, role=role) for email, role in store.list_members(principal.org_id)],
        invites=[MemberInfo(email=email, role=role) for email, role in store.list_invites(principal.org_id)],
    )
