"""A world for hostile tests: two provinces, each with a commune, a facility and one row of every scoped table,
and a user of every role in each.

Province A's free text is hostile (`HOSTILE`: a formula start, a script tag and an attribute break-out); every
text of province B carries `SECRET_B`, so a page that leaks anything of B shows that marker. The ASCII marker
survives JSON's \\u escapes and cannot occur by chance in a CSRF token.
"""
from datetime import UTC, date, datetime

from sqlalchemy import select

from service.aggregation.models import IndicatorTarget
from service.flags.models import Flag
from service.submissions.models import Reminder, Submission, Upload
from service.training import operations as training
from service.training.models import (
    Course,
    Qualification,
    QualificationType,
    RoleCategory,
    TrainingClass,
    TrainingPlan,
    TrainingTarget,
)
from service.validation.models import ValidationRun

SCRIPT = "<script>alert(1)</script>"
BREAKOUT = '"><img src=x onerror=alert(1)>'
HOSTILE = f"=1+1{SCRIPT}{BREAKOUT}"
RAW_TAGS = ("<script>alert(1)", "<img src=x onerror")
ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"
SECRET_B = "XBSECRETX"
FORM = "commune_rehab"
PERIOD = "2025Q4"
ROLES = ("admin", "training_coordinator", "data_steward", "facility_manager", "commune_reporter")


class Side:
    """One province's rows (`.province`, `.commune`, `.facility`, `.staff`, …) and its users by role."""


def _text(side, what):
    return f"{HOSTILE} {what}" if side.hostile else f"{what} {SECRET_B}"


def _national(side, what):
    return f"{HOSTILE} {what}" if side.hostile else f"{what} B"


def build_side(db, make_unit, make_facility, make_user, label, hostile):
    s = Side()
    s.hostile = hostile
    tag = label.lower()
    code = "ZQA" if hostile else SECRET_B
    s.province = make_unit("province", edition=2025, code=f"{code}P", name=_text(s, "Tỉnh"))
    s.commune = make_unit("commune", s.province, code=f"{code}C", name=_text(s, "Xã"))
    s.facility = make_facility(s.commune, code=f"{code}-CS", name=_text(s, "Cơ sở"), address=_text(s, "Địa chỉ"),
                               licence_issuer=_text(s, "Sở"))
    s.users = {}
    for role in ROLES:
        scope = None if role == "facility_manager" else s.commune if role == "commune_reporter" else s.province
        s.users[role] = make_user(role, scope=scope, facility=s.facility if role == "facility_manager" else None,
                                  username=f"{role}_{tag}{'' if hostile else SECRET_B.lower()}",
                                  full_name=_text(s, "Người dùng"))
    counselling = db.session.execute(select(RoleCategory).where(RoleCategory.code == "counselling")).scalar_one()
    s.staff = training.create_staff(f"{code}-NV", _text(s, "Nhân viên"), counselling, s.commune, "F",
                                    date_of_birth=date(1985, 5, 1), facility=s.facility, position=_text(s, "Chức vụ"))
    kind = db.session.scalars(select(QualificationType)).first()
    s.qualification = Qualification(staff=s.staff, qualification_type=kind, number=f"{code}-VB",
                                    issuer=_text(s, "Nơi cấp"), issued_on=date(2020, 1, 1))
    db.session.add(s.qualification)
    # the course catalogue and the plans are national (shared by design): B's carry no secret
    s.course = Course(code=f"{label}-KH", title=_national(s, "Khoá học"), topic="counselling", hours=8, certifies=True,
                      validity_months=24)
    db.session.add(s.course)
    db.session.flush()
    s.training_class = TrainingClass(course=s.course, org_unit=s.province, organiser=_text(s, "Đơn vị tổ chức"),
                                     place=_text(s, "Địa điểm"), trainers=_text(s, "Giảng viên"),
                                     starts_on=date(2025, 10, 1), ends_on=date(2025, 10, 5), capacity=30)
    db.session.add(s.training_class)
    db.session.flush()
    s.certificate = training.issue_certificate(s.staff, s.course, _text(s, "Nơi cấp"), date(2025, 10, 5),
                                               number=f"{code}-CC", training_class=s.training_class)
    s.plan = TrainingPlan(code=f"{label}-KHOACH", name=_national(s, "Kế hoạch"), number=f"{label}/KH-UBND")
    db.session.add(s.plan)
    db.session.flush()
    s.training_target = TrainingTarget(plan=s.plan, scope_unit=s.province, role_category=counselling,
                                       metric="trained", percent=80, deadline=date(2026, 12, 31))
    s.indicator_target = IndicatorTarget(plan=s.plan, scope_unit=s.province, indicator_code="treatment_rate",
                                         direction="at_least", value=80, baseline_note=_text(s, "Ghi chú"),
                                         deadline=date(2026, 12, 31))
    reporter = s.users["commune_reporter"]
    s.upload = Upload(form_code=FORM, period=PERIOD, filename=_text(s, "tep") + ".csv", sha256="0" * 64, size=10,
                      status="accepted", rows=1, errors=[], uploaded_by=reporter)
    db.session.add_all([s.training_target, s.indicator_target, s.upload])
    db.session.flush()
    s.submission = Submission(form_code=FORM, form_version=1, period=PERIOD, period_type="quarter", org_unit=s.commune,
                              version=1, is_current=True, values={"addicts_with_record": 10, "treated_total": 3},
                              submitted_by=reporter, channel="upload", upload=s.upload, due_date=date(2025, 12, 15),
                              on_time=True, submitted_at=datetime(2025, 12, 1, 3, 0, tzinfo=UTC))
    s.reminder = Reminder(form_code=FORM, period="2025Q3", org_unit=s.commune, due_date=date(2025, 9, 15))
    db.session.add_all([s.submission, s.reminder])
    db.session.flush()
    s.flag = Flag(subject="report", submission_id=s.submission.id, org_unit_id=s.commune.id, form_code=FORM,
                  period=PERIOD, rule="C01", severity="error", status="explained", message_vi=_text(s, "Thông điệp"),
                  message_en=_text(s, "Message"), observed={"treated_total": 3}, values_hash="h",
                  explanation=_text(s, "Giải trình"), explained_by_id=reporter.id)
    s.facility_flag = Flag(subject="facility", facility_id=s.facility.id, org_unit_id=s.commune.id, rule="F01",
                           severity="warning", status="open", message_vi=_text(s, "Thông điệp cơ sở"),
                           message_en=_text(s, "Facility message"), observed={}, values_hash="h")
    s.run = ValidationRun(trigger="manual", form_code=FORM, periods=[PERIOD], status="completed")
    db.session.add_all([s.flag, s.facility_flag, s.run])
    db.session.flush()
    return s


def build_world(db, make_unit, make_facility, make_user):
    """(side A, side B): A's texts are hostile, B's carry SECRET_B."""
    return (build_side(db, make_unit, make_facility, make_user, "A", True),
            build_side(db, make_unit, make_facility, make_user, "B", False))


def admin_views(app):
    return list(app.extensions["admin"][0]._views)


def model_views(app):
    return [view for view in admin_views(app) if hasattr(view, "model")]


def other_views(app):
    return [view for view in admin_views(app) if not hasattr(view, "model")]
