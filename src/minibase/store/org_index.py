"""Every organization's id, name and plan, for instance-wide views (metering).

On PostgreSQL row-level security hides organizations from a global unit of work, so the
list comes from the ``SECURITY DEFINER`` function ``minibase_org_index()`` (migration
0011), which returns these three columns only. Callers check the caller is an instance
admin first.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select, text

from minibase.store.tables import organizations
from minibase.store.unit_of_work import GlobalUnitOfWork


@dataclass(frozen=True, slots=True)
class OrgRef:
    id: str
    name: str
    plan: str


async def all_orgs(uow: GlobalUnitOfWork) -> list[OrgRef]:
    if uow.is_postgres:
        rows = (await uow.execute(text("SELECT id, name, plan FROM minibase_org_index()"))).all()
    else:
        rows = (
            await uow.execute(
                select(organizations.c.id, organizations.c.name, organizations.c.plan).order_by(
                    organizations.c.created_at, organizations.c.id
                )
            )
        ).all()
    return [OrgRef(row.id, row.name, row.plan) for row in rows]
