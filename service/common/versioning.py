"""Optimistic locking for the rows people edit in forms: no silent overwrite of someone else's change.

`RowVersioned` gives a model a `row_version` counter that SQLAlchemy itself keeps (`version_id_col`): every ORM
UPDATE of the row adds one and carries `WHERE row_version = <the version this session read>`, so a write based on
a version that someone else has changed in the meantime touches no row and raises StaleDataError, whoever the
writer is (admin form, API, import). The admin edit forms carry the version they were read at in a hidden field
(admin.base.ScopedModelView) and refuse to save over a newer one.
"""
from sqlalchemy.orm import Mapped, declared_attr, mapped_column


class RowVersioned:
    row_version: Mapped[int] = mapped_column(default=1, server_default="1", nullable=False)

    @declared_attr.directive
    def __mapper_args__(cls):
        return {"version_id_col": cls.__table__.c.row_version}
