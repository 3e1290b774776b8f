"""The report workflow driven at random (hypothesis stateful testing) through the operations the admin, the API
and the scheduler call: submit / resubmit → validate → explain / accept a flag → approve → reopen, and submitting
into a locked period. After every step:

- one current version per (form, commune, period), and the versions numbered without a gap;
- a locked (approved) period's current values do not change, and a submission into it is refused;
- every change of state has its audit row (submissions, flags, locks, approval events);
- an accepted flag stays accepted only for the values it was accepted for.
"""
import itertools

import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import func, select

from service.approval import operations as approvals
from service.approval.models import PeriodLock
from service.audit.models import AuditLog
from service.extensions import db as _db
from service.flags import operations as flags
from service.flags.models import Flag
from service.forms.registry import get_form
from service.submissions.models import Submission
from service.submissions.operations import SubmissionError, submit
from tests.test_submissions import good_values

PERIODS = ("2026Q2", "2026Q3")
# values that pass, and values whose modalities add up to more than the total treated (an error-level flag)
VALUES = st.sampled_from([good_values(), good_values(relapsed=3), good_values(treated_total=10),
                          good_values(treated_total=12, relapsed=2)])
_numbers = itertools.count(1)


def audited(table, row_id, action=None):
    query = select(func.count()).select_from(AuditLog).where(AuditLog.table_name == table,
                                                             AuditLog.row_id == str(row_id))
    if action:
        query = query.where(AuditLog.action == action)
    return _db.session.scalar(query)


@pytest.mark.parametrize("examples", [20])
def test_the_report_workflow_keeps_its_invariants(app, db, make_unit, make_user, examples):
    from service.validation.runner import run_validation

    form = get_form("commune_rehab")

    class Workflow(RuleBasedStateMachine):
        @initialize()
        def place(self):
            number = next(_numbers)
            self.province = make_unit("province", edition=2025, code=f"9{number:03d}")
            self.communes = [make_unit("commune", self.province) for _ in range(2)]
            self.steward = make_user("data_steward", scope=self.province)
            self.admin = make_user("admin")  # a province's period is reopened by the level above
            self.locked = {}  # period → {commune id: values} at approval
            _db.session.commit()  # a refused step rolls back its own work only

        def _current(self, commune, period):
            return _db.session.scalar(select(Submission).where(
                Submission.form_code == form.code, Submission.period == period,
                Submission.org_unit_id == commune.id, Submission.is_current.is_(True)))

        @rule(commune=st.integers(0, 1), period=st.sampled_from(PERIODS), values=VALUES)
        def send_report(self, commune, period, values):
            unit, user = self.communes[commune], self.steward
            before = self._current(unit, period)
            try:
                stored = submit(user, form, form.parse_period(period), unit, values, "api")
            except SubmissionError as exc:
                assert period in self.locked, f"refused outside a locked period: {exc.code}"
                assert exc.code == "period_locked"
                _db.session.rollback()
                return
            _db.session.commit()
            assert period not in self.locked, "a report went into a locked period"
            assert stored.version == (before.version + 1 if before else 1)
            assert audited("submission", stored.id, "create") == 1

        @rule(period=st.sampled_from(PERIODS))
        def validate(self, period):
            run = run_validation(form, [form.parse_period(period)], "manual", data_docs=False)
            assert run.status == "completed"

        def _flags(self, statuses):
            return _db.session.scalars(select(Flag).where(
                Flag.subject == "report", Flag.org_unit_id.in_([unit.id for unit in self.communes]),
                Flag.status.in_(statuses)).order_by(Flag.id)).all()

        @precondition(lambda self: self._flags(("open",)))
        @rule(data=st.data())
        def explain(self, data):
            flag = data.draw(st.sampled_from(self._flags(("open",))))
            before = audited("flag", flag.id, "update")
            flags.explain_flag(self.steward, flag, "Số liệu đã kiểm tra lại với xã.")
            _db.session.commit()
            assert audited("flag", flag.id, "update") == before + 1

        @precondition(lambda self: self._flags(("open", "explained")))
        @rule(data=st.data())
        def accept(self, data):
            flag = data.draw(st.sampled_from(self._flags(("open", "explained"))))
            before = audited("flag", flag.id, "update")
            try:
                flags.accept_flag(self.steward, flag, "Đúng thực tế: bệnh nhân chuyển tuyến.")
            except flags.FlagError:
                assert flag.period in self.locked
                _db.session.rollback()
                return
            _db.session.commit()
            assert audited("flag", flag.id, "update") == before + 1

        @rule(period=st.sampled_from(PERIODS))
        def approve(self, period):
            events = audited_events = _db.session.scalar(select(func.count()).select_from(AuditLog).where(
                AuditLog.table_name == "approval_event"))
            try:
                approvals.approve(self.steward, form, period, self.province, "Đã rà soát.")
            except approvals.ApprovalError:
                _db.session.rollback()
                return
            _db.session.commit()
            assert period not in self.locked
            self.locked[period] = {unit.id: (current.values if (current := self._current(unit, period)) else None)
                                   for unit in self.communes}
            assert _db.session.scalar(select(func.count()).select_from(AuditLog).where(
                AuditLog.table_name == "approval_event")) == events + 1
            del audited_events

        @rule(period=st.sampled_from(PERIODS))
        def reopen(self, period):
            try:
                approvals.reopen(self.admin, form, period, self.province, "Xã gửi bổ sung số liệu.")
            except approvals.ApprovalError:
                assert period not in self.locked
                _db.session.rollback()
                return
            _db.session.commit()
            assert period in self.locked
            del self.locked[period]

        @invariant()
        def one_current_version_numbered_without_gaps(self):
            if not hasattr(self, "communes"):
                return
            for unit in self.communes:
                for period in PERIODS:
                    rows = _db.session.execute(select(Submission.version, Submission.is_current).where(
                        Submission.form_code == form.code, Submission.period == period,
                        Submission.org_unit_id == unit.id).order_by(Submission.version)).all()
                    assert [version for version, _current in rows] == list(range(1, len(rows) + 1))
                    assert [current for _version, current in rows].count(True) == (1 if rows else 0)
                    assert not rows or rows[-1].is_current

        @invariant()
        def locked_periods_unchanged(self):
            if not hasattr(self, "communes"):
                return
            for period, snapshot in self.locked.items():
                assert _db.session.scalar(select(PeriodLock.id).where(
                    PeriodLock.period == period, PeriodLock.org_unit_id == self.province.id)) is not None
                for unit in self.communes:
                    current = self._current(unit, period)
                    assert (current.values if current else None) == snapshot[unit.id]

        @invariant()
        def accepted_only_for_the_values_accepted(self):
            if not hasattr(self, "communes"):
                return
            for flag in self._flags(("accepted",)):
                assert flag.accepted_hash == flag.values_hash

        @invariant()
        def every_flag_is_audited(self):
            if not hasattr(self, "communes"):
                return
            for flag in self._flags(("open", "explained", "accepted", "resolved")):
                assert audited("flag", flag.id, "create") == 1

    run_state_machine_as_test(Workflow, settings=settings(
        max_examples=examples, stateful_step_count=15, deadline=None, database=None,
        suppress_health_check=list(HealthCheck), phases=[Phase.explicit, Phase.generate]))
