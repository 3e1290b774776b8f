"""`flask demo load` (demo data for `make run`) and `flask serve` (the embedded service)."""
import click
from flask import current_app
from flask.cli import AppGroup, with_appcontext
from sqlalchemy import select

from service.accounts.models import User
from service.audit.operations import act_as
from service.common.time import local_today
from service.config import INSTANCE_DIR
from service.demo.facilities import load_demo_facilities
from service.demo.indicators import load_demo_indicator_targets
from service.demo.operations import build_synthetic_units, ensure_demo_users, load_official_units, units_loaded
from service.demo.reports import demo_communes, load_demo_reports
from service.demo.training import load_demo_training
from service.extensions import db

demo_cli = AppGroup("demo", help="Demo data.")


@demo_cli.command("load")
@click.option("--logins-file", default=str(INSTANCE_DIR / "demo-logins.txt"), show_default=True)
def load_command(logins_file):
    """Load demo data: official units from UNITS_DIR if present (else a synthetic hierarchy) and one user per
    role. Safe to run again."""
    act_as(None, "demo", "cli")
    units_dir = current_app.config.get("UNITS_DIR")
    try:
        if units_dir and (units_dir / "vn_units_2025.csv").exists():
            loaded = load_official_units(units_dir)
            click.echo(f"Đơn vị hành chính chính thức từ {units_dir}: {', '.join(loaded) or 'đã có sẵn'}")
        elif not units_loaded(2025):
            build_synthetic_units()
            click.echo("Không tìm thấy danh mục đơn vị (UNITS_DIR): đã tạo danh mục MÔ PHỎNG cho 5 tỉnh. "
                       "Xem README để nạp danh mục chính thức.")
        lines = ensure_demo_users(logins_file)
        admin = db.session.execute(select(User).where(User.username == "admin")).scalar_one()
        reports = load_demo_reports(admin, demo_communes())
        staff = load_demo_training(local_today())
        targets = load_demo_indicator_targets()
        facilities = load_demo_facilities(local_today())
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    if reports:
        click.echo(f"Báo cáo mẫu của các xã: {reports} bản.")
    if staff:
        click.echo(f"Hồ sơ cán bộ mẫu (Cà Mau, Vĩnh Long, Đồng Tháp): {staff} người.")
    if targets:
        click.echo(f"Chỉ tiêu chương trình của các kế hoạch tỉnh (từ báo cáo của xã): {targets} chỉ tiêu.")
    if facilities:
        click.echo(f"Cơ sở mẫu (công suất, số liệu điều tra hằng tuần, nhân sự): {facilities} cơ sở.")
    click.echo("Tài khoản dùng thử (tên mật-khẩu vai-trò):")
    for line in lines:
        click.echo("  " + line)


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--threads", default=8, show_default=True, type=int)
@with_appcontext
def serve_command(host, port, threads):
    """Serve the service with waitress, with the scheduler in process when SCHEDULER_IN_PROCESS is on."""
    from waitress import serve

    from service.scheduler import build_scheduler

    app = current_app._get_current_object()
    if app.config.get("SCHEDULER_IN_PROCESS"):
        build_scheduler(app).start()
        click.echo("Bộ lập lịch chạy trong tiến trình web.")
    click.echo(f"Dịch vụ: http://{host}:{port}/")
    serve(app, host=host, port=port, threads=threads)
