"""Nothing lost in the admin: two people editing the same record end in a conflict message, never a silent overwrite.

Every admin view with an edit form is covered (test_every_editable_view_is_covered fails when a new one is added
without a case here). Each case opens the same edit form in two browser sessions, saves in the first, then saves
in the second: the second is refused with the Vietnamese conflict message, its form kept, and the first's values
stay. The race the form check cannot see (both read the same version, the other write lands between our check
and our UPDATE) is caught by the row version in the UPDATE itself (SQLAlchemy version_id_col).
"""
from datetime import date
from html.parser import HTMLParser

import pytest
from sqlalchemy import update
from sqlalchemy.orm.exc import StaleDataError

from admin.base import VERSION_FIELD, ScopedModelView
from service.extensions import db as _db
from tests.conftest import live_app_with_commune

CONFLICT = "Bản ghi đã được người khác sửa"


class _FormReader(HTMLParser):
    """The values a browser would send for the admin's model form (inputs, checked boxes, selects, textareas)."""

    def __init__(self):
        super().__init__()
        self.data, self._select, self._textarea, self._in_form = {}, None, None, False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form" and "admin-form" in (attrs.get("class") or ""):
            self._in_form = True
        if not self._in_form:
            return
        name = attrs.get("name")
        if tag == "input" and name:
            kind = attrs.get("type", "text")
            if kind in ("checkbox", "radio"):
                if "checked" in attrs:
                    self.data[name] = attrs.get("value", "y")
            elif kind not in ("submit", "button", "file"):
                self.data[name] = attrs.get("value") or ""
        elif tag == "select" and name:
            self._select = name
            self.data.setdefault(name, "")
        elif tag == "option" and self._select and "selected" in attrs:
            self.data[self._select] = attrs.get("value", "")
        elif tag == "textarea" and name:
            self._textarea = name
            self.data[name] = ""

    def handle_endtag(self, tag):
        if tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None
        elif tag == "form":
            self._in_form = False

    def handle_data(self, data):
        if self._textarea:
            self.data[self._textarea] += data


def form_values(html):
    reader = _FormReader()
    reader.feed(html)
    assert reader.data, "no admin form in the page"
    return reader.data


# --- one row per editable view ------------------------------------------------------------------------------

class Rows:
    """Builds, per admin endpoint, a row to edit: (row, form field, first value, second value, read back)."""

    def __init__(self, make_unit, make_user, make_facility):
        from service.training.models import QualificationType, RoleCategory, TrainingPlan

        self.province = make_unit("province")
        self.commune = make_unit("commune", self.province)
        self.make_user, self.make_facility = make_user, make_facility
        self.role = self.add(RoleCategory(code="tu_van_xung_dot", name_vi="Tư vấn", name_en="Counselling"))
        self.qtype = self.add(QualificationType(code="cchn_x", name_vi="Chứng chỉ hành nghề", name_en="Licence",
                                                kind="licence"))
        self.qtype_2 = self.add(QualificationType(code="bang_x", name_vi="Bằng", name_en="Diploma", kind="diploma"))
        self.plan = self.add(TrainingPlan(code="KH-XUNG-DOT", name="Kế hoạch thử"))

    @staticmethod
    def add(row):
        _db.session.add(row)
        _db.session.flush()
        return row

    def staff(self):
        from service.training.models import StaffMember

        return self.add(StaffMember(staff_code="NV-XD", full_name="Nguyễn Văn Xung", sex="M", role_category=self.role,
                                    org_unit_id=self.commune.id, employment_status="active"))

    def case(self, endpoint):
        from service.aggregation.models import IndicatorTarget
        from service.facilities.models import StaffingCondition
        from service.training.models import (
            Course,
            Qualification,
            RoleCategory,
            RoleRequirement,
            TrainingClass,
            TrainingTarget,
        )

        if endpoint == "users":
            user = self.make_user("data_steward", scope=self.province)
            return user, "full_name", "Người sửa thứ nhất", "Người sửa thứ hai", lambda row: row.full_name
        if endpoint == "indicator_targets":
            row = self.add(IndicatorTarget(plan=self.plan, scope_unit_id=self.province.id,
                                           indicator_code="treatment_rate", direction="at_least", value=50,
                                           deadline=date(2027, 12, 31)))
            return row, "baseline_note", "Ghi chú một", "Ghi chú hai", lambda row: row.baseline_note
        if endpoint == "staff":
            return self.staff(), "position", "Tư vấn viên", "Kế toán", lambda row: row.position
        if endpoint == "qualifications":
            row = self.add(Qualification(staff=self.staff(), qualification_type_id=self.qtype.id, number="1",
                                         issuer="Sở Y tế", issued_on=date(2024, 1, 2)))
            return row, "issuer", "Sở Y tế tỉnh", "Bộ Y tế", lambda row: row.issuer
        if endpoint == "courses":
            row = self.add(Course(code="KH-XD-1", title="Khoá cũ", topic="counselling", hours=8))
            return row, "title", "Khoá một", "Khoá hai", lambda row: row.title
        if endpoint == "classes":
            course = self.add(Course(code="KH-XD-2", title="Khoá", topic="counselling", hours=8))
            row = self.add(TrainingClass(course=course, org_unit_id=self.commune.id, starts_on=date(2026, 3, 2),
                                         ends_on=date(2026, 3, 4), place="Hội trường"))
            return row, "place", "Hội trường A", "Hội trường B", lambda row: row.place
        if endpoint == "training_plans":
            return self.plan, "name", "Kế hoạch một", "Kế hoạch hai", lambda row: row.name
        if endpoint == "training_targets":
            row = self.add(TrainingTarget(plan=self.plan, scope_unit_id=self.province.id, role_category=self.role,
                                          metric="trained", percent=80, deadline=date(2027, 12, 31)))
            return row, "percent", "85", "90", lambda row: f"{row.percent:.0f}"
        if endpoint == "role_categories":
            row = self.add(RoleCategory(code="y_te_xd", name_vi="Y tế", name_en="Medical"))
            return row, "name_vi", "Cán bộ y tế một", "Cán bộ y tế hai", lambda row: row.name_vi
        if endpoint == "qualification_types":
            return self.qtype, "name_vi", "Chứng chỉ một", "Chứng chỉ hai", lambda row: row.name_vi
        if endpoint == "role_requirements":
            row = self.add(RoleRequirement(role_category=self.role, qualification_type_id=self.qtype.id))
            third = self.add(type(self.qtype)(code="ts_x", name_vi="Thạc sĩ", name_en="Master", kind="diploma"))
            return (row, "qualification_type", str(self.qtype_2.id), str(third.id),
                    lambda row: str(row.qualification_type_id))
        if endpoint == "facilities":
            row = self.make_facility(self.commune, name="Cơ sở cũ")
            return row, "address", "12 Đường Một", "34 Đường Hai", lambda row: row.address
        if endpoint == "staffing_conditions":
            row = self.add(StaffingCondition(facility_type="public_rehab", role_category_id=self.role.id,
                                             qualification_type_id=self.qtype.id, minimum=1))
            return row, "basis", "Căn cứ một", "Căn cứ hai", lambda row: row.basis
        raise AssertionError(f"no case for {endpoint}")


EDITABLE = ("users", "indicator_targets", "staff", "qualifications", "courses", "classes", "training_plans",
            "training_targets", "role_categories", "qualification_types", "role_requirements", "facilities",
            "staffing_conditions")


def editable_views(app):
    return {view.endpoint: view for view in app.extensions["admin"][0]._views
            if isinstance(view, ScopedModelView) and any("edit" in rights for rights in view.access.values())
            and view.endpoint != "flags"}  # flags change through explain/accept/reopen, not an edit form


def test_every_editable_view_is_covered_and_row_versioned(app):
    views = editable_views(app)
    assert set(views) == set(EDITABLE)
    for endpoint, view in views.items():
        assert view.model.__mapper__.version_id_col is not None, endpoint


@pytest.fixture
def rows(make_unit, make_user, make_facility):
    return Rows(make_unit, make_user, make_facility)


def _open_edit(client, login_as, endpoint, row):
    login_as(client)
    page = client.get(f"/admin/{endpoint}/edit/?id={row.id}")
    assert page.status_code == 200
    values = form_values(page.text)
    assert values.get(VERSION_FIELD) == str(row.row_version)
    return values


@pytest.mark.parametrize("endpoint", EDITABLE)
def test_two_people_save_the_same_record_the_second_gets_a_conflict(app, db, rows, make_user, endpoint):
    from tests.conftest import PASSWORD, csrf_token_from

    admin = make_user("admin")
    row, field, first_value, second_value, read_back = rows.case(endpoint)
    db.session.commit()

    def login_as(client):
        page = client.get("/admin/login/")
        client.post("/admin/login/", data={"username": admin.username, "password": PASSWORD,
                                           "csrf_token": csrf_token_from(page.text)})

    first, second = app.test_client(), app.test_client()
    first_form = _open_edit(first, login_as, endpoint, row)
    second_form = _open_edit(second, login_as, endpoint, row)
    saved = first.post(f"/admin/{endpoint}/edit/?id={row.id}", data=first_form | {field: first_value})
    assert saved.status_code == 302, saved.text
    refused = second.post(f"/admin/{endpoint}/edit/?id={row.id}", data=second_form | {field: second_value})
    assert refused.status_code == 200
    assert CONFLICT in refused.text
    assert second_value in refused.text  # the second person's form is kept, their input not thrown away
    db.session.expire_all()
    fresh = db.session.get(type(row), row.id)
    assert read_back(fresh) == first_value
    # after reloading, the second person can save over the first's change
    again = _open_edit(second, login_as, endpoint, fresh)
    assert second.post(f"/admin/{endpoint}/edit/?id={row.id}", data=again | {field: second_value}).status_code == 302
    db.session.expire_all()
    assert read_back(db.session.get(type(row), row.id)) == second_value


def test_a_form_without_its_version_is_refused(app, db, rows, client, login, make_user):
    row, field, first_value, _second, read_back = rows.case("courses")
    admin = make_user("admin")
    db.session.commit()
    login(admin)
    values = form_values(client.get(f"/admin/courses/edit/?id={row.id}").text)
    del values[VERSION_FIELD]
    response = client.post(f"/admin/courses/edit/?id={row.id}", data=values | {field: first_value})
    assert response.status_code == 200 and CONFLICT in response.text
    db.session.expire_all()
    assert read_back(db.session.get(type(row), row.id)) == "Khoá cũ"


def test_a_write_landing_between_the_check_and_the_update_is_a_conflict(app, db, rows, client, login, make_user,
                                                                        monkeypatch):
    """Both read version 1 and both pass the form check; the other's commit lands before our UPDATE, which then
    matches no row (WHERE row_version = 1): a conflict, nothing of ours written."""
    from service.training.models import Course

    row, field, first_value, _second, read_back = rows.case("courses")
    admin = make_user("admin")
    db.session.commit()
    login(admin)
    values = form_values(client.get(f"/admin/courses/edit/?id={row.id}").text)
    checked = ScopedModelView.validate_form

    def check_then_someone_saves(view, form):
        result = checked(view, form)
        db.session.execute(update(Course).where(Course.id == row.id).values(title="Người khác lưu trước",
                                                                            row_version=Course.row_version + 1)
                           .execution_options(synchronize_session=False))
        return result

    monkeypatch.setattr(ScopedModelView, "validate_form", check_then_someone_saves)
    response = client.post(f"/admin/courses/edit/?id={row.id}", data=values | {field: first_value})
    assert response.status_code == 200 and CONFLICT in response.text
    db.session.expire_all()
    assert read_back(db.session.get(Course, row.id)) != first_value  # (the test's "other" write is rolled back too)


@pytest.mark.live_server
def test_two_sessions_on_the_same_row_the_later_flush_fails(databases):
    """The database itself refuses the stale write, whoever the writer is (two separate connections)."""
    from sqlalchemy.orm import Session

    from service.accounts.models import User

    app, user_id, _commune_id = live_app_with_commune(databases, "row_version", "hai_phien", "admin")
    with app.app_context():
        engine = _db.engine
        with Session(engine, expire_on_commit=False) as one, Session(engine, expire_on_commit=False) as two:
            # both read version 1, each in its own transaction (as a form shown in one request, saved in the next)
            first = one.get(User, user_id)
            one.commit()
            second = two.get(User, user_id)
            two.commit()
            first.full_name = "Phiên một"
            one.commit()
            second.full_name = "Phiên hai"
            with pytest.raises(StaleDataError):
                two.commit()
            two.rollback()
        with Session(engine) as check:
            user = check.get(User, user_id)
            assert (user.full_name, user.row_version) == ("Phiên một", 2)
        engine.dispose()
