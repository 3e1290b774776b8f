"""Report submission API: GET /forms, POST /submissions, POST /submissions/upload, GET /submissions[/<id>]."""
from flask import g, request
from flask_babel import gettext as _
from marshmallow import ValidationError
from sqlalchemy import select

from service.api import MAX_ID, ApiError, api_route, paginate
from service.extensions import db
from service.forms.registry import all_forms, get_form
from service.submissions import imports, operations
from service.submissions.models import Submission
from service.submissions.schemas import FormSchema, SubmissionInSchema, SubmissionSchema, UploadSchema
from service.units.queries import unit_ids_with_code


def _form_or_error(code, field="form"):
    form = get_form(code or "")
    if form is None:
        raise ApiError(400, "unknown_form", _("Unknown form %(code)s.", code=code), [{"field": field, "value": code}])
    return form


@api_route("/forms", "Reporting forms with their fields")
def list_forms():
    forms = all_forms()
    return {"items": FormSchema(many=True).dump(forms), "total": len(forms), "page": 1, "per_page": len(forms)}


SUBMISSION_BODY = {"type": "object", "required": ["form", "period", "org_unit", "values"], "properties": {
    "form": {"type": "string"}, "period": {"type": "string"}, "org_unit": {"type": "string"},
    "values": {"type": "object"}}}
SUBMISSION_ANSWER = {"type": "object", "required": ["id", "version", "status"], "properties": {
    "id": {"type": "integer"}, "version": {"type": "integer"}, "status": {"type": "string"}}}
UPLOAD_BODY = {"format": "multipart", "type": "object", "required": ["form", "period", "file"], "properties": {
    "form": {"type": "string"}, "period": {"type": "string"}, "file": {"type": "string", "format": "binary"}}}


@api_route("/submissions", "Submit a commune report (a new version); honours Idempotency-Key", methods=("POST",),
           roles=operations.SUBMITTING_ROLES, body=SUBMISSION_BODY, response=SUBMISSION_ANSWER)
def create_submission():
    try:
        payload = SubmissionInSchema().load(request.get_json(silent=True) or {})
    except ValidationError as exc:
        raise ApiError(400, "invalid_request", _("The request body is not a valid submission."),
                       [{"field": key, "message": " ".join(map(str, value))}
                        for key, value in exc.messages.items()]) from None
    form = _form_or_error(payload["form"])
    key = request.headers.get("Idempotency-Key") or None
    period = operations.resolve_period(form, payload["period"])
    unit = operations.resolve_commune(g.api_user, period, payload["org_unit"])
    submission = operations.submit(g.api_user, form, period, unit, payload["values"], "api", idempotency_key=key)
    db.session.commit()
    return SubmissionSchema().dump(submission), 201


@api_route("/submissions/upload", "Submit a spreadsheet (XLSX or CSV) for a form and period, all or nothing",
           methods=("POST",), roles=operations.SUBMITTING_ROLES, body=UPLOAD_BODY)
def upload_submissions():
    form = _form_or_error(request.form.get("form"))
    file = request.files.get("file")
    if file is None:
        raise ApiError(400, "invalid_request", _("Send the spreadsheet in the multipart field 'file'."),
                       [{"field": "file"}])
    period = operations.resolve_period(form, request.form.get("period"))
    upload, _submissions = imports.import_table(g.api_user, form, period, file.filename, file.read(),
                                                    idempotency_key=request.headers.get("Idempotency-Key") or None)
    db.session.commit()
    body = UploadSchema().dump(upload)
    if upload.status == "rejected":
        raise ApiError(400, "invalid_file", _("The file was not imported: %(count)s error(s). Nothing was stored.",
                                              count=len(upload.errors)), upload.errors)
    return body, 201


def _scoped_submissions():
    return select(Submission).where(g.scope.units_column_clause(Submission.org_unit_id))


@api_route("/submissions", "Submissions in the caller's scope (current versions unless all_versions=1)",
           params=("form", "period", "org_unit", "all_versions", "page", "per_page"))
def list_submissions():
    query = _scoped_submissions()
    if request.args.get("form"):
        query = query.where(Submission.form_code == request.args["form"])
    if request.args.get("period"):
        query = query.where(Submission.period == request.args["period"])
    if request.args.get("org_unit"):
        query = query.where(Submission.org_unit_id.in_(unit_ids_with_code(request.args["org_unit"])))
    if request.args.get("all_versions") not in ("1", "true"):
        query = query.where(Submission.is_current.is_(True))
    return paginate(query.order_by(Submission.period.desc(), Submission.org_unit_id, Submission.version.desc()),
                    SubmissionSchema())


@api_route("/submissions/<int:submission_id>", "One submission (any version) in the caller's scope",
           response=SUBMISSION_ANSWER)
def get_submission(submission_id):
    if submission_id > MAX_ID:  # no such row, and a number the database cannot compare with its keys
        raise ApiError(404, "not_found", _("Not found (or outside your scope)."))
    submission = db.session.scalar(_scoped_submissions().where(Submission.id == submission_id))
    if submission is None:
        raise ApiError(404, "not_found", _("Not found (or outside your scope)."))
    return SubmissionSchema().dump(submission)
