"""The admin area: login, ingest status and runs, re-index with progress, dictionary and
synonym editing, index statistics and the audit log. Every route requires a logged-in
admin (session) or an API token (Authorization: Bearer pkb_…); every form checks CSRF."""

from __future__ import annotations

import functools
import re
import time
from pathlib import Path

from flask import (
    Blueprint,
    abort,
    g,
    jsonify,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)

from analyzers.lexicon import KIWI_TAGS
from policykb.errors import ConflictError, InputError, TooLargeError
from policykb.lexicon_edits import SYNONYMS_NAME, USER_DICT_NAME, LexiconEditError
from search_app.errors import error_response
from search_app.views.common import runtime, safe_redirect_target
from search_app.views.csrf import check_csrf

bp = Blueprint("admin", __name__, url_prefix="/admin")


def _client() -> str:
    return request.remote_addr or "-"


def current_user() -> str | None:
    auth = request.headers.get("Authorization", "")
    if auth.startswith("Bearer "):
        return runtime().accounts.user_for_token(auth[7:].strip())
    sid = session.get("sid")
    if not sid:
        return None
    user = runtime().accounts.session_user(sid)
    if user is None or user != session.get("admin"):
        return None
    return user


def admin_required(view):
    @functools.wraps(view)
    def wrapped(*args, **kwargs):
        user = current_user()
        if user is None:
            if request.path.startswith("/admin/api/") or request.method != "GET":
                return error_response(401, "unauthorized", "관리자 로그인이 필요합니다.", json=True)
            return redirect(url_for("admin.login", next=request.path))
        g.admin = user
        if request.method == "POST" and not request.headers.get("Authorization"):
            check_csrf()  # tokens are not sent by browsers on their own: no CSRF risk
        return view(*args, **kwargs)

    return wrapped


def _audit(action: str, **detail) -> None:
    runtime().accounts.audit(g.admin, action, detail, _client())


@bp.route("/login", methods=["GET", "POST"])
def login():
    error = None
    if request.method == "POST":
        check_csrf()
        accounts = runtime().accounts
        username = (request.form.get("username") or "").strip()[:64]
        password = request.form.get("password") or ""
        wait = accounts.login_wait(username, _client())
        if wait > 0:
            error = "로그인 시도가 너무 많습니다. 잠시 후 다시 시도해 주세요."
            response = make_response(render_template("admin/login.html", error=error), 429)
            response.headers["Retry-After"] = str(max(1, int(wait + 0.999)))
            return response
        if accounts.verify(username, password):
            accounts.clear_login_failures(username)
            old = session.get("sid")
            if old:
                accounts.end_session(old)
            session.clear()
            session["admin"] = username
            session["sid"] = accounts.start_session(username)
            accounts.audit(username, "login", {}, _client())
            target = safe_redirect_target(
                request.args.get("next"), "/admin", url_for("admin.dashboard")
            )
            return redirect(target)
        accounts.record_login_failure(username, _client())
        time.sleep(0.2)
        error = "사용자 이름 또는 비밀번호가 맞지 않습니다."
    return render_template("admin/login.html", error=error), 401 if error else 200


@bp.post("/logout")
@admin_required
def logout():
    _audit("logout")
    if session.get("sid"):
        runtime().accounts.end_session(session["sid"])
    session.clear()
    return redirect(url_for("ui.index"))


def _stats() -> dict:
    rt = runtime()
    return {
        "documents": rt.store.count_documents(),
        "documents_with_copies": rt.store.count_documents(canonical_only=False),
        "files": rt.store.file_counts(),
        "index": rt.backend.info(),
        "analyzer": rt.analyzer.identity,
        "stale_documents": rt.store.count_stale(rt.analyzer.identity),
        "lexicon": {
            k: str(v) for k, v in zip(("user_dict", "synonyms"), rt.lexicon_paths(), strict=True)
        },
        "facets": rt.store.facet_counts(),
    }


@bp.get("/")
@admin_required
def dashboard():
    rt = runtime()
    return render_template(
        "admin/dashboard.html",
        stats=_stats(),
        failed=rt.store.list_files("failed")[:500],
        job=rt.jobs.latest("reindex"),
        ingest_job=rt.jobs.latest("ingest"),
        roots=rt.ingest_roots(),
        harvest_failures=rt.harvester().failures()[:500],
        harvest_job=rt.jobs.latest("harvest"),
    )


@bp.get("/api/stats")
@admin_required
def api_stats():
    rt = runtime()
    data = _stats()
    data["failed_files"] = [
        {"path": f.path, "error": f.error} for f in rt.store.list_files("failed")
    ]
    data["harvest_failures"] = rt.harvester().failures()
    return jsonify(data)


# ------------------------------------------------------------------------------ ingest
_SAFE_NAME_RE = re.compile(r"[^0-9A-Za-z가-힣._()\- ]+")


def _safe_filename(name: str) -> str:
    name = Path(name.replace("\\", "/")).name
    name = _SAFE_NAME_RE.sub("_", name).strip(" .")
    return name[:150] or "upload"


def _start_ingest(paths: list[Path], retry_failed: bool = False):
    rt = runtime()

    def work(job):
        def progress(report, _path):
            job.done, job.total = report.seen, report.total_files

        report = rt.ingester().run(paths, retry_failed=retry_failed, progress=progress)
        return report.summary()

    return rt.jobs.start("ingest", g.admin, work)  # JobRunningError: 409


@bp.post("/ingest")
@admin_required
def ingest():
    rt = runtime()
    files = [f for f in request.files.getlist("files") if f and f.filename]
    if files:
        folder = rt.upload_folder()
        limit = rt.settings.max_file_mb * 1024 * 1024
        saved = []
        for f in files:
            name = _safe_filename(f.filename)
            if Path(name).suffix.lower() not in rt.supported_suffixes:
                raise InputError(
                    f"지원하지 않는 파일 형식입니다: {name}", code="bad_request", param="files"
                )
            target = folder / name
            f.save(target)
            if target.stat().st_size > limit:
                target.unlink()
                raise TooLargeError(f"파일이 너무 큽니다: {name}", param="files")
            saved.append(name)
        _audit("upload", folder=str(folder), files=saved)
        _start_ingest([folder])
    else:
        folder = rt.allowed_folder(request.form.get("folder") or "")
        _audit("ingest", folder=str(folder))
        _start_ingest([folder])
    return redirect(url_for("admin.dashboard"))


@bp.post("/retry-failed")
@admin_required
def retry_failed():
    paths = sorted({str(Path(f.path).parent) for f in runtime().store.list_files("failed")})
    _audit("retry_failed", folders=paths)
    if paths:
        _start_ingest([Path(p) for p in paths], retry_failed=True)
    return redirect(url_for("admin.dashboard"))


@bp.post("/harvest/retry")
@admin_required
def harvest_retry():
    """Harvest again the catalogue records whose original could not be fetched."""
    rt = runtime()
    count = len(rt.harvester().failures())
    _audit("harvest_retry", records=count)

    def work(job):
        def progress(report, total):
            job.done, job.total = report.fetched + report.unchanged + report.failed, total

        return rt.harvester().run(retry_failed=True, progress=progress).summary()

    rt.jobs.start("harvest", g.admin, work)
    return redirect(url_for("admin.dashboard"))


# ----------------------------------------------------------------------------- reindex
@bp.post("/reindex")
@admin_required
def reindex():
    rt = runtime()

    def work(job):
        def progress(done, total):
            job.done, job.total = done, total

        info = rt.reindex(progress)
        return f"{info['documents']}건 색인 ({info['reanalyzed']}건 재분석)"

    job = rt.jobs.start("reindex", g.admin, work)
    _audit("reindex", job=job.id)
    if request.headers.get("Authorization"):
        return jsonify(job.to_json()), 202
    return redirect(url_for("admin.job_page", job_id=job.id))


def _job(job_id: int) -> dict:
    job = runtime().jobs.get(job_id)
    if job is None:
        abort(404)
    return job.to_json()


@bp.get("/jobs/<int:job_id>")
@admin_required
def job_page(job_id: int):
    return render_template("admin/job.html", job=_job(job_id))


@bp.get("/api/jobs/<int:job_id>")
@admin_required
def api_job(job_id: int):
    return jsonify(_job(job_id))


# ----------------------------------------------------------------------------- lexicon
def _lexicon_form_texts(editor) -> tuple[dict[str, str], str]:
    """The lexicon texts the submitted form asks for, and a description of the edit."""
    form = request.form
    op = form.get("op") or "texts"
    if op == "add-word":
        word = (form.get("word") or "").strip()
        return editor.texts_adding_word(
            word, (form.get("tag") or "NNP").strip()
        ), f"add-word {word}"
    if op == "add-synonym":
        entries = [e.strip() for e in (form.get("entries") or "").split(",") if e.strip()]
        head, rest = (entries[0], entries[1:]) if entries else ("", [])
        return editor.texts_adding_synonyms(head, rest), "add-synonym " + ", ".join(entries)
    new = {k: (form.get(k) or "").replace("\r\n", "\n") for k in ("user_dict", "synonyms")}
    return {USER_DICT_NAME: new["user_dict"], SYNONYMS_NAME: new["synonyms"]}, "edit files"


@bp.route("/lexicon", methods=["GET", "POST"])
@admin_required
def lexicon():
    rt = runtime()
    editor = rt.lexicon_editor()
    editor.prepare()  # a word added from this page then needs no new Kiwi model load
    texts = editor.current_texts()
    error = saved = plan = None
    status = 200
    if request.method == "POST":
        try:
            new, description = _lexicon_form_texts(editor)
            if request.form.get("action") == "preview":
                plan = rt.edit_lexicon(new, description, preview=True)
                texts = new
            else:
                result = rt.edit_lexicon(new, description)
                after = rt.lexicon_editor()
                after.prepare()  # the next edit from this page needs no model load either
                texts = after.current_texts()
                _audit("lexicon_edit", edit=description, **result.counts())
                saved = result.summary()
        except (LexiconEditError, ConflictError) as exc:  # shown on the form (too large: 413)
            # busy: another edit, an ingest, a reindex (409); the typed texts are kept
            error, status = exc.message, (409 if isinstance(exc, ConflictError) else 400)
            if request.form.get("op", "texts") == "texts":
                texts = {
                    USER_DICT_NAME: request.form.get("user_dict") or "",
                    SYNONYMS_NAME: request.form.get("synonyms") or "",
                }
    shown = {"user_dict": texts[USER_DICT_NAME], "synonyms": texts[SYNONYMS_NAME]}
    return render_template(
        "admin/lexicon.html",
        texts=shown,
        error=error,
        saved=saved,
        plan=plan,
        tags=sorted(KIWI_TAGS),
    ), status


@bp.get("/audit")
@admin_required
def audit():
    return render_template("admin/audit.html", entries=runtime().accounts.audit_log())


@bp.get("/api/audit")
@admin_required
def api_audit():
    return jsonify(
        [
            {
                "at": e.at,
                "user": e.username,
                "action": e.action,
                "detail": e.detail,
                "client": e.client,
            }
            for e in runtime().accounts.audit_log()
        ]
    )
