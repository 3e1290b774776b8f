"""`flask --app app validate run [--form F] [--period P]`: validate now and print a summary."""
import click
from flask.cli import AppGroup

from service.audit.operations import act_as, cli_actor
from service.common.time import local_today
from service.forms.registry import get_form
from service.validation.jobs import open_periods

validate_cli = AppGroup("validate", help="Validation with the Great Expectations suites.")


@validate_cli.command("run")
@click.option("--form", "form_code", help="Form code (default: every form with reports).")
@click.option("--period", "period_code", help="Period code, e.g. 2026Q3 (default: every open period).")
@click.option("--no-docs", is_flag=True, help="Skip the Data Docs pages.")
def run_command(form_code, period_code, no_docs):
    """Validate the reports of a period (or of every open period) now."""
    from service.validation.runner import run_validation

    act_as(None, cli_actor(), "cli")
    batches = open_periods(local_today())
    if form_code:
        batches = {form_code: batches.get(form_code, [])}
    for code, periods in batches.items():
        form = get_form(code)
        if form is None:
            raise click.ClickException(f"Không có biểu mẫu {code}.")
        if period_code:
            periods = [form.parse_period(period_code)]
        if not periods:
            click.echo(f"{code}: không có kỳ báo cáo nào để kiểm tra.")
            continue
        run = run_validation(form, periods, "manual", data_docs=not no_docs)
        click.echo(f"run={run.id} form={code} periods={','.join(run.periods)} status={run.status} "
                   f"reports={run.reports_checked} failing={run.reports_failing} failures={run.failures} "
                   f"flags_opened={run.flags_opened} flags_closed={run.flags_closed} seconds={run.duration_s}")
