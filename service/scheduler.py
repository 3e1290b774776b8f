"""Scheduled jobs, declared as data, run in an app context with their own audit actor and one commit.

`flask scheduler run` starts them alone (deployments with several web workers); `make run` starts them in the
web process (`SCHEDULER_IN_PROCESS`).
"""
import logging
from datetime import datetime, timedelta

import click
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from flask import current_app
from flask.cli import AppGroup, with_appcontext

from service.audit.operations import act_as
from service.extensions import db

log = logging.getLogger(__name__)


def _prune_login_attempts():
    from service.accounts.operations import prune_login_attempts

    return prune_login_attempts()


def _remind_late_communes():
    from service.submissions.jobs import remind_late_communes

    return remind_late_communes()


def _validate_new():
    from service.validation.jobs import validate_new

    return validate_new()


def _validate_nightly():
    from service.validation.jobs import nightly_job

    return nightly_job()


def _refresh_expiry_alerts():
    from service.training.jobs import refresh_expiry_alerts

    return refresh_expiry_alerts()


def _check_facilities():
    from service.facilities.checks import refresh_facility_flags

    return refresh_facility_flags()


# id → (callable, APScheduler trigger arguments). `start_soon` also runs the job shortly after start.
JOBS = {
    "prune_login_attempts": (_prune_login_attempts, {"trigger": "cron", "hour": 2, "minute": 30}),
    # at start too: the late list holds every commune past a deadline from the first minutes, not from 06:00
    "remind_late_communes": (_remind_late_communes, {"trigger": "cron", "hour": 6, "minute": 0, "start_soon": True}),
    "validate_new": (_validate_new, {"trigger": "interval", "minutes": 5, "start_soon": True}),
    "validate_nightly": (_validate_nightly, {"trigger": "cron", "hour": 1, "minute": 30}),
    "refresh_expiry_alerts": (_refresh_expiry_alerts, {"trigger": "cron", "hour": 5, "minute": 0, "start_soon": True}),
    "check_facilities": (_check_facilities, {"trigger": "cron", "hour": 5, "minute": 15, "start_soon": True}),
}


def run_job(app, job_id):
    """Run one job inside an app context; commit on success, roll back and log on failure."""
    func, _trigger = JOBS[job_id]
    with app.app_context():
        act_as(None, f"job:{job_id}", "job")
        try:
            result = func()
            db.session.commit()
            log.info("job %s done: %s", job_id, result)
            return result
        except Exception:
            db.session.rollback()
            log.exception("job %s failed", job_id)
            raise


def build_scheduler(app, blocking=False):
    # One job at a time: jobs due together (the start-up ones, the early-morning ones) queue instead of fighting
    # for the database (on SQLite a long validation run would make the others fail with "database is locked").
    scheduler = (BlockingScheduler if blocking else BackgroundScheduler)(
        timezone="Asia/Ho_Chi_Minh", executors={"default": ThreadPoolExecutor(max_workers=1)})
    for job_id, (_func, trigger) in JOBS.items():
        trigger = dict(trigger)
        if trigger.pop("start_soon", False):
            trigger["next_run_time"] = datetime.now(scheduler.timezone) + timedelta(seconds=20)
        scheduler.add_job(run_job, args=(app, job_id), id=job_id, coalesce=True, max_instances=1,
                          misfire_grace_time=3600, **trigger)
    return scheduler


scheduler_cli = AppGroup("scheduler", help="Scheduled jobs.")


@scheduler_cli.command("run")
@with_appcontext
def run_command():
    """Run the scheduler alone, in the foreground (one per deployment)."""
    app = current_app._get_current_object()
    click.echo("Scheduler: " + ", ".join(JOBS))
    build_scheduler(app, blocking=True).start()


@scheduler_cli.command("run-job")
@click.argument("job_id", type=click.Choice(sorted(JOBS)))
@with_appcontext
def run_job_command(job_id):
    """Run one job now."""
    click.echo(f"{job_id}: {run_job(current_app._get_current_object(), job_id)}")
