"""Links between admin pages, built from the registered views (never from hard-coded positions)."""
from flask import current_app, url_for


def view_for(endpoint):
    """The registered admin view of an endpoint ("flags", "staff", …), or None."""
    admin = current_app.extensions["admin"][0]
    return next((view for view in admin._views if getattr(view, "endpoint", None) == endpoint), None)


def filtered_list_url(endpoint, **equals):
    """URL of a Flask-Admin list with "equals" filters on columns, e.g. filtered_list_url("flags", rule="C01").

    Flask-Admin names filters by position (flt0_<n>) and the position depends on the view's filter list, so
    links are built from the live view instead of hard-coded numbers. A key "table.column" picks a column of a
    related table (org_unit.code)."""
    from flask_admin.contrib.sqla.filters import FilterEqual

    view = view_for(endpoint)
    if view._filters is None:
        view._refresh_filters_cache()
    args = {}
    for position, (key, value) in enumerate(equals.items()):
        table, _, column = key.rpartition(".")
        for index, item in enumerate(view._filters or []):
            target = getattr(item, "column", None)
            if isinstance(item, FilterEqual) and getattr(target, "key", None) == column and (
                    not table or target.table.name == view.model.__mapper__.relationships[table].target.name):
                args[f"flt{position}_{index}"] = value
                break
    return url_for(f"{endpoint}.index_view", **args)
