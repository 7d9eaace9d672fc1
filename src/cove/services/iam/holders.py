"""Inline and attached policies of a principal entity (role or user): one implementation for both."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cove.policy import PolicyKind
from cove.services.iam import generation
from cove.services.iam.documents import checked, wire
from cove.services.iam.errors import LimitExceeded, NoSuchEntity
from cove.services.iam.tables import (
    ManagedPolicy,
    RoleInlinePolicy,
    RolePolicyAttachment,
    UserInlinePolicy,
    UserPolicyAttachment,
)
from cove.services.paging import page

__all__ = ["ROLE", "USER", "Holder"]

# IAM's default quota of managed policies attached to one role or user.
MAX_ATTACHED = 10


@dataclass(frozen=True, slots=True)
class Holder:
    label: str  # "role" or "user", as IAM's messages say it
    inline: type[RoleInlinePolicy] | type[UserInlinePolicy]
    attachment: type[RolePolicyAttachment] | type[UserPolicyAttachment]
    owner: str  # the foreign-key column naming the holder

    def _owner_col(self, table: Any) -> Any:
        return getattr(table, self.owner)

    def _inline_row(
        self, session: Session, owner_id: str, name: str
    ) -> RoleInlinePolicy | UserInlinePolicy | None:
        query = select(self.inline).where(self._owner_col(self.inline) == owner_id, self.inline.name == name)
        return cast("RoleInlinePolicy | UserInlinePolicy | None", session.scalars(query).first())

    def put_inline(self, session: Session, owner_id: str, name: str, document: str) -> None:
        text = checked(document, PolicyKind.IDENTITY)
        row = self._inline_row(session, owner_id, name)
        if row is None:
            session.add(self.inline(name=name, document=text, **{self.owner: owner_id}))
        else:
            row.document = text
        generation.touch(session)

    def get_inline(self, session: Session, owner_id: str, name: str) -> str:
        row = self._inline_row(session, owner_id, name)
        if row is None:
            raise NoSuchEntity(f"The {self.label} policy with name {name} cannot be found.")
        return wire(row.document)

    def delete_inline(self, session: Session, owner_id: str, name: str) -> None:
        row = self._inline_row(session, owner_id, name)
        if row is None:
            raise NoSuchEntity(f"The {self.label} policy with name {name} cannot be found.")
        session.delete(row)
        generation.touch(session)

    def list_inline(
        self, session: Session, owner_id: str, marker: str | None, max_items: int | None
    ) -> dict[str, Any]:
        names = list(
            session.scalars(select(self.inline.name).where(self._owner_col(self.inline) == owner_id))
        )
        chunk, more = page(names, key=lambda n: n, marker=marker, max_items=max_items)
        return {"PolicyNames": chunk, **more}

    def inline_documents(self, session: Session, owner_id: str) -> list[tuple[str, str]]:
        rows = session.execute(
            select(self.inline.name, self.inline.document).where(self._owner_col(self.inline) == owner_id)
        )
        return [(name, doc) for name, doc in rows]

    def attach(self, session: Session, owner_id: str, policy_arn: str) -> None:
        if session.get(ManagedPolicy, policy_arn) is None:
            raise NoSuchEntity(f"Policy {policy_arn} does not exist or is not attachable.")
        owner = self._owner_col(self.attachment)
        if session.scalars(
            select(self.attachment).where(owner == owner_id, self.attachment.policy_arn == policy_arn)
        ).first():
            return
        count = (
            session.scalar(select(func.count()).select_from(self.attachment).where(owner == owner_id)) or 0
        )
        if count >= MAX_ATTACHED:
            raise LimitExceeded(
                f"Cannot exceed quota for PoliciesPer{self.label.capitalize()}: {MAX_ATTACHED}"
            )
        session.add(self.attachment(policy_arn=policy_arn, **{self.owner: owner_id}))
        generation.touch(session)

    def detach(self, session: Session, owner_id: str, policy_arn: str) -> None:
        row = session.scalars(
            select(self.attachment).where(
                self._owner_col(self.attachment) == owner_id, self.attachment.policy_arn == policy_arn
            )
        ).first()
        if row is None:
            raise NoSuchEntity(f"Policy {policy_arn} was not found.")
        session.delete(row)
        generation.touch(session)

    def list_attached(
        self, session: Session, owner_id: str, marker: str | None, max_items: int | None
    ) -> dict[str, Any]:
        rows = session.execute(
            select(ManagedPolicy.name, ManagedPolicy.arn)
            .join(self.attachment, self.attachment.policy_arn == ManagedPolicy.arn)
            .where(self._owner_col(self.attachment) == owner_id)
        ).all()
        chunk, more = page(rows, key=lambda r: r[1], marker=marker, max_items=max_items)
        return {"AttachedPolicies": [{"PolicyName": n, "PolicyArn": a} for n, a in chunk], **more}

    def attached_documents(self, session: Session, owner_id: str) -> list[tuple[str, str]]:
        rows = session.execute(
            select(ManagedPolicy.arn, ManagedPolicy.document)
            .join(self.attachment, self.attachment.policy_arn == ManagedPolicy.arn)
            .where(self._owner_col(self.attachment) == owner_id)
        )
        return [(arn, doc) for arn, doc in rows]

    def has_policies(self, session: Session, owner_id: str) -> tuple[bool, bool]:
        """(has inline policies, has attached policies): IAM refuses to delete either way."""
        inline = session.scalar(
            select(func.count()).select_from(self.inline).where(self._owner_col(self.inline) == owner_id)
        )
        attached = session.scalar(
            select(func.count())
            .select_from(self.attachment)
            .where(self._owner_col(self.attachment) == owner_id)
        )
        return bool(inline), bool(attached)


ROLE = Holder("role", RoleInlinePolicy, RolePolicyAttachment, "role_id")
USER = Holder("user", UserInlinePolicy, UserPolicyAttachment, "user_id")
