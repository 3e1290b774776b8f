"""The import page for training records: templates, a rejected file with its rows, an accepted file, scope."""
from io import BytesIO

from openpyxl import load_workbook
from sqlalchemy import select

from service.training.models import RoleCategory, StaffMember, TrainingClass
from tests.conftest import csrf_token_from


def test_coordinator_imports_a_roster_after_fixing_its_errors(client, login, make_user, make_unit, db):
    province = make_unit("province", edition=2025)
    commune = make_unit("commune", province)
    coordinator = make_user("training_coordinator", scope=province)
    assert db.session.scalar(select(RoleCategory.id).where(RoleCategory.code == "counselling"))
    login(coordinator)
    page = client.get("/admin/training_import/")
    assert page.status_code == 200
    template = client.get("/admin/training_import/template/staff.xlsx")
    header = [cell.value for cell in load_workbook(BytesIO(template.data)).worksheets[0][1]]
    assert header[:5] == ["staff_code", "full_name", "date_of_birth", "sex", "role"]
    bad = ("staff_code,full_name,sex,role,unit_code\n"
           f"N1,Ngô Thị Hạnh,nữ,counselling,{commune.code}\nN2,Đỗ Văn Hải,nam,bác sĩ,{commune.code}\n").encode()
    response = client.post("/admin/training_import/upload/staff", data={
        "csrf_token": csrf_token_from(page.text), "file": (BytesIO(bad), "ds.csv")})
    assert response.status_code == 200 and 'id="import-errors"' in response.text
    assert "<code>role</code>" in response.text
    assert db.session.scalar(select(StaffMember.id)) is None
    good = bad.replace("bác sĩ".encode(), b"medical")
    response = client.post("/admin/training_import/upload/staff", data={
        "csrf_token": csrf_token_from(page.text), "file": (BytesIO(good), "ds.csv")})
    assert response.status_code == 302
    assert set(db.session.scalars(select(StaffMember.staff_code))) == {"N1", "N2"}


def test_import_page_is_for_coordinators_and_classes_stay_in_scope(client, login, make_user, make_unit, db):
    from datetime import date

    from service.training.models import Course

    province = make_unit("province", edition=2025)
    other = make_unit("province", edition=2025)
    course = Course(code="X", title="X", topic="counselling", certifies=False)
    foreign = TrainingClass(course=course, org_unit=other, starts_on=date(2026, 1, 1), ends_on=date(2026, 1, 2))
    db.session.add_all([course, foreign])
    db.session.flush()
    steward = make_user("data_steward", scope=province)
    login(steward)
    assert client.get("/admin/training_import/").status_code == 403
    coordinator = make_user("training_coordinator", scope=province)
    login(coordinator)
    page = client.get("/admin/training_import/")
    assert f'value="{foreign.id}"' not in page.text
    response = client.post("/admin/training_import/upload/attendance", data={
        "csrf_token": csrf_token_from(page.text), "class_id": str(foreign.id),
        "file": (BytesIO(b"staff_code,status\nA,completed\n"), "a.csv")})
    assert response.status_code == 404
