"""`flask demo load` on a fresh machine without the official unit lists, and again."""
import stat

from sqlalchemy import func, select

from service.accounts.models import User
from service.units.models import AdminUnit


def test_demo_without_unit_lists_builds_a_synthetic_hierarchy_and_one_user_per_role(app, runner, db, tmp_path,
                                                                                       monkeypatch, login, client):
    monkeypatch.setitem(app.config, "UNITS_DIR", None)
    logins = tmp_path / "demo-logins.txt"
    result = runner.invoke(args=["demo", "load", "--logins-file", str(logins)])
    assert result.exit_code == 0, result.output
    assert "MÔ PHỎNG" in result.output
    units = db.session.scalars(select(AdminUnit).where(AdminUnit.level == "commune")).all()
    assert units and all(unit.synthetic and unit.name.endswith("(mô phỏng)") for unit in units)
    provinces = set(db.session.scalars(select(AdminUnit.code).where(AdminUnit.edition == 2025,
                                                                  AdminUnit.level == "province")))
    assert provinces == {"96", "66", "86", "82", "79"}
    roles = dict(db.session.execute(select(User.username, User.role)).all())
    assert sorted(roles.values()) == sorted(["admin", "training_coordinator", "data_steward", "facility_manager",
                                             "commune_reporter"])
    assert stat.S_IMODE(logins.stat().st_mode) == 0o600
    lines = logins.read_text().splitlines()
    username, password, role = lines[-1].split()
    assert login(username, password).status_code == 302

    again = runner.invoke(args=["demo", "load", "--logins-file", str(logins)])
    assert again.exit_code == 0
    assert logins.read_text().splitlines() == lines
    assert db.session.scalar(select(func.count()).select_from(User)) == 5


def test_demo_facilities_show_the_cases_a_steward_should_find(app, runner, db, tmp_path, monkeypatch):
    """Over capacity (compulsory in Đắk Lắk, detox beds in Cà Mau), a missing licensed doctor (Đồng Tháp), a stale
    census (Vĩnh Long) and an expiring licence (Hồ Chí Minh City); every other demo facility is clean."""
    from service.facilities.models import Facility
    from service.flags.models import Flag

    monkeypatch.setitem(app.config, "UNITS_DIR", None)
    result = runner.invoke(args=["demo", "load", "--logins-file", str(tmp_path / "logins.txt")])
    assert result.exit_code == 0, result.output
    flags = db.session.execute(select(Facility.code, Flag.rule).join(Facility, Facility.id == Flag.facility_id)
                               .where(Flag.subject == "facility", Flag.status == "open")).all()
    found = {(code, rule if not rule.startswith("F04-") else "F04") for code, rule in flags}
    assert found == {("CSCN-66-01", "F01-compulsory"), ("CSCN-96-01", "F02"), ("CSCN-82-01", "F04"),
                     ("MMT-86-01", "F03"), ("CSTN-79-01", "F05")}
    assert db.session.scalar(select(func.count()).select_from(Facility)) == 13
