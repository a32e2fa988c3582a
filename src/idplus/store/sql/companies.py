"""Developer portal companies and their members ⇄ `models.Company`, `models.Membership`."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from idplus.models import COMPANY_ADMIN, Company, Membership
from idplus.store.sql.dialect import insert_if_absent
from idplus.store.sql.tables import companies, company_members


def _company(row: Any) -> Company:
    return Company(id=row.id, name=row.name, created_at=row.created_at, created_by=row.created_by)


def _membership(row: Any) -> Membership:
    return Membership(
        company_id=row.company_id, user_id=row.user_id, role=row.role, joined_at=row.joined_at
    )


class SqlCompanies:
    """Developer portal companies and their members."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def insert(self, company: Company) -> None:
        self._conn.execute(
            sa.insert(companies).values(
                id=company.id,
                name=company.name,
                created_at=company.created_at,
                created_by=company.created_by,
            )
        )

    def find(self, company_id: str, *, lock: bool = False) -> Company | None:
        query = sa.select(companies).where(companies.c.id == company_id)
        row = self._conn.execute(query.with_for_update() if lock else query).first()
        return None if row is None else _company(row)

    def rename(self, company_id: str, name: str) -> bool:
        changed = self._conn.execute(
            sa.update(companies)
            .where(companies.c.id == company_id)
            .values(name=name)
            .returning(companies.c.id)
        ).first()
        return changed is not None

    def delete(self, company_id: str) -> bool:
        gone = self._conn.execute(
            sa.delete(companies).where(companies.c.id == company_id).returning(companies.c.id)
        ).first()
        return gone is not None

    def page(self, *, after: str | None, limit: int, user_id: str | None = None) -> list[Company]:
        """By id; `user_id`: only the companies that user is a member of."""
        query = sa.select(companies).order_by(companies.c.id).limit(limit)
        if after is not None:
            query = query.where(companies.c.id > after)
        if user_id is not None:
            query = query.where(
                companies.c.id.in_(
                    sa.select(company_members.c.company_id).where(
                        company_members.c.user_id == user_id
                    )
                )
            )
        return [_company(row) for row in self._conn.execute(query)]

    def add_member(self, membership: Membership) -> bool:
        """False when the user is a member already (also by a concurrent add): nothing
        changed."""
        values = {
            "company_id": membership.company_id,
            "user_id": membership.user_id,
            "role": membership.role,
            "joined_at": membership.joined_at,
        }
        return insert_if_absent(self._conn, company_members, values, ["company_id", "user_id"])

    def role_of(self, company_id: str, user_id: str) -> str | None:
        role: str | None = self._conn.execute(
            sa.select(company_members.c.role).where(
                company_members.c.company_id == company_id,
                company_members.c.user_id == user_id,
            )
        ).scalar()
        return role

    def members(self, company_id: str) -> list[Membership]:
        rows = self._conn.execute(
            sa.select(company_members)
            .where(company_members.c.company_id == company_id)
            .order_by(company_members.c.joined_at, company_members.c.user_id)
        )
        return [_membership(row) for row in rows]

    def memberships_of(self, user_id: str) -> list[Membership]:
        rows = self._conn.execute(
            sa.select(company_members)
            .where(company_members.c.user_id == user_id)
            .order_by(company_members.c.company_id)
        )
        return [_membership(row) for row in rows]

    def set_role(self, company_id: str, user_id: str, role: str) -> bool:
        changed = self._conn.execute(
            sa.update(company_members)
            .where(
                company_members.c.company_id == company_id,
                company_members.c.user_id == user_id,
            )
            .values(role=role)
            .returning(company_members.c.user_id)
        ).first()
        return changed is not None

    def remove_member(self, company_id: str, user_id: str) -> bool:
        gone = self._conn.execute(
            sa.delete(company_members)
            .where(
                company_members.c.company_id == company_id,
                company_members.c.user_id == user_id,
            )
            .returning(company_members.c.user_id)
        ).first()
        return gone is not None

    def admin_count(self, company_id: str) -> int:
        return int(
            self._conn.execute(
                sa.select(sa.func.count()).where(
                    company_members.c.company_id == company_id,
                    company_members.c.role == COMPANY_ADMIN,
                )
            ).scalar_one()
        )
