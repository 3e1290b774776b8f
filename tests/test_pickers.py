"""The form and period picker of the report screens (admin/pickers.py): the chosen form, the chosen period with
each screen's default, and the choices with the chosen period offered in its group or apart."""
from datetime import date

import pytest
from werkzeug.exceptions import NotFound

from admin.pickers import chosen_form, chosen_period, period_choices
from service.forms.periods import Period
from service.forms.registry import get_form

ON = date(2026, 5, 10)


def test_the_form_defaults_to_commune_reports_and_an_unknown_one_is_the_first_or_a_404(app):
    with app.test_request_context("/?form=no_such_form"):
        assert chosen_form() is not None
        with pytest.raises(NotFound):
            chosen_form(strict=True)
    with app.test_request_context("/"):
        assert chosen_form().code == "commune_rehab"


def test_the_period_is_the_requested_one_else_the_current_one_and_a_bad_code_is_a_404(app):
    form = get_form("commune_rehab")
    with app.test_request_context("/?period=2025Q3"):
        assert chosen_period(form).code == "2025Q3"
    with app.test_request_context("/"):
        assert chosen_period(form, on=ON).code == "2026Q2"
        assert chosen_period(form, default="reported", on=ON).code == "2026Q2"  # no report: the current one
    with app.test_request_context("/?period=nonsense"):
        with pytest.raises(NotFound):
            chosen_period(form)
        assert chosen_period(form, lenient=True, on=ON).code == "2026Q2"


def test_the_choices_offer_a_chosen_period_in_its_group_or_apart(app):
    form = get_form("commune_rehab")
    with app.test_request_context("/"):
        plain = period_choices(form, on=ON)
        assert [len(periods) for _label, periods in plain] == [8, 4, 3][:len(plain)]
        old = Period.parse("2019Q2")
        grouped = period_choices(form, chosen=old, on=ON)
        assert grouped[0][1][-1] == old and len(grouped[0][1]) == 9
        apart = period_choices(form, chosen=old, on=ON, chosen_apart=True)
        assert apart[0] == (old.label(), [old]) and apart[1:] == plain
        recent = plain[0][1][0]
        assert period_choices(form, chosen=recent, on=ON) == plain
        assert period_choices(form, chosen=recent, on=ON, chosen_apart=True) == plain
