"""The app's words in zh-CN (the default) and English; the choice lives in a cookie (`?lang=en`)."""

from __future__ import annotations

from collections.abc import Callable

LANGS = ("zh-CN", "en")
DEFAULT_LANG = "zh-CN"
COOKIE = "patrol_lang"

# key -> (zh-CN, en)
MESSAGES: dict[str, tuple[str, str]] = {
    "app.title": ("无人机巡查案件审核", "Drone patrol case review"),
    "nav.queue": ("待办队列", "Queue"),
    "nav.map": ("地图", "Map"),
    "nav.flights": ("航次", "Flights"),
    "nav.upload": ("上传航次", "Upload flight"),
    "nav.users": ("用户", "Users"),
    "nav.api": ("接口文档", "API docs"),
    "nav.logout": ("退出", "Sign out"),
    "nav.help": ("快捷键", "Shortcuts"),
    "login.title": ("登录", "Sign in"),
    "login.name": ("用户名", "User name"),
    "login.password": ("密码", "Password"),
    "login.submit": ("登录", "Sign in"),
    "login.failed": ("用户名或密码错误", "Wrong user name or password"),
    "login.limited": ("尝试次数过多，请 {s} 秒后再试", "Too many attempts: try again in {s} s"),
    "err.401": ("请先登录", "Please sign in"),
    "err.403": ("您的角色无权执行此操作", "Your role may not do this"),
    "err.404": ("未找到", "Not found"),
    "err.csrf": ("表单已过期，请刷新页面后重试", "The form has expired: reload the page and retry"),
    "err.generic": ("出错了", "Something went wrong"),
    "queue.title": ("待办队列", "Case queue"),
    "queue.status": ("状态", "Status"),
    "queue.class": ("类别", "Class"),
    "queue.flight": ("航次", "Flight"),
    "queue.from": ("最近发现 起", "Last seen from"),
    "queue.to": ("至", "to"),
    "queue.sort": ("排序", "Sort"),
    "queue.sort.priority": ("优先级", "Priority"),
    "queue.sort.score": ("置信度", "Confidence"),
    "queue.sort.last_seen": ("最近发现", "Last seen"),
    "queue.filter": ("筛选", "Filter"),
    "queue.all": ("全部", "All"),
    "queue.open": ("待审", "Open"),
    "queue.next": ("领取下一件 (n)", "Claim next (n)"),
    "queue.empty": ("队列为空", "The queue is empty"),
    "queue.count": ("共 {n} 件", "{n} cases"),
    "col.id": ("编号", "No."),
    "col.evidence": ("证据", "Evidence"),
    "col.category": ("事件类别", "Category"),
    "col.status": ("状态", "Status"),
    "col.score": ("置信度", "Score"),
    "col.sightings": ("发现次数", "Sightings"),
    "col.flights": ("航次数", "Flights"),
    "col.first_seen": ("首次发现", "First seen"),
    "col.last_seen": ("最近发现", "Last seen"),
    "col.claimed_by": ("审核人", "Reviewer"),
    "col.when": ("时间", "When"),
    "col.who": ("操作人", "Who"),
    "col.action": ("操作", "Action"),
    "col.note": ("备注", "Note"),
    "col.files": ("文件", "Files"),
    "col.refused": ("无法使用的文件", "Unusable files"),
    "col.failed_frames": ("处理失败的帧", "Frames that failed"),
    "col.uploaded_by": ("上传人", "Uploaded by"),
    "col.frames": ("帧数", "Frames"),
    "col.name": ("名称", "Name"),
    "col.role": ("角色", "Role"),
    "col.distance": ("距离", "Distance"),
    "case.title": ("案件 {id}", "Case {id}"),
    "case.evidence": ("证据截图", "Evidence crop"),
    "case.frame": ("原始照片", "Full frame"),
    "case.no_file": ("文件不可用", "File not available"),
    "case.location": ("位置", "Location"),
    "case.amap": ("在高德地图中打开", "Open in AMap"),
    "case.sightings": ("发现记录", "Sightings"),
    "case.not_seen": ("复查未发现", "Checked, not seen"),
    "case.not_seen_on": ("航次 {f} 未发现", "Not seen on flight {f}"),
    "case.history": ("处理记录", "History"),
    "case.reason": ("原因 / 备注", "Reason / note"),
    "case.nearby": ("附近的同类案件", "Nearby cases of this class"),
    "case.claimed": ("{u} 审核中，至 {t}", "Under review by {u} until {t}"),
    "act.claim": ("领取 (a)", "Claim (a)"),
    "act.confirm": ("确认立案 (c)", "Confirm (c)"),
    "act.reject": ("不予立案 (r)", "Reject (r)"),
    "act.duplicate": ("标记重复 (d)", "Mark duplicate (d)"),
    "act.release": ("放回队列 (u)", "Release (u)"),
    "act.dispatch": ("派遣", "Dispatch"),
    "act.resolve": ("已处置", "Resolved"),
    "act.close": ("结案", "Close"),
    "act.reassign": ("改派给", "Reassign to"),
    "act.note": ("添加备注", "Add note"),
    "act.reason_needed": ("请填写不予立案的原因", "Give the reason for rejecting"),
    "act.failed": ("操作未完成：{why}", "Not done: {why}"),
    "act.done": ("案件 {id} 现为：{s}", "Case {id} is now: {s}"),
    "map.title": ("未结案件地图", "Open cases on the map"),
    "map.grid": ("未配置底图：在坐标网格上显示", "No base map configured: shown on a coordinate grid"),
    "flights.title": ("航次", "Flights"),
    "flights.uploads": ("上传的航次", "Uploaded flights"),
    "flights.processed": ("已处理的航次", "Processed flights"),
    "flights.none": ("暂无", "None yet"),
    "upload.title": ("上传航次", "Upload a flight"),
    "upload.label": ("航次名称", "Flight name"),
    "upload.files": ("选择文件（照片、视频、SRT）", "Choose files (photos, videos, SRT)"),
    "upload.folder": ("或选择整个文件夹", "or a whole folder"),
    "upload.zip": ("也可以上传 zip 压缩包", "A zip archive works too"),
    "upload.submit": ("上传", "Upload"),
    "upload.done": ("已收到航次 {f}：{n} 个文件", "Received flight {f}: {n} files"),
    "upload.refused": ("上传被拒绝", "Upload refused"),
    "users.title": ("用户管理", "Users"),
    "users.add": ("添加用户", "Add user"),
    "users.display_name": ("显示名称", "Display name"),
    "users.disabled": ("已停用", "disabled"),
    "help.keys": (
        "j/k 上下移动 · Enter 打开 · n 领取下一件 · a 领取 · c 确认 · r 不予立案 · d 标记重复 · u 放回 · "
        "Esc 取消 · ? 帮助",
        "j/k move · Enter open · n claim next · a claim · c confirm · r reject · d duplicate · u release · "
        "Esc cancel · ? help",
    ),
    "status.new": ("新发现", "New"),
    "status.in_review": ("审核中", "In review"),
    "status.confirmed": ("已立案", "Confirmed"),
    "status.dispatched": ("已派遣", "Dispatched"),
    "status.resolved": ("已处置", "Resolved"),
    "status.closed": ("已结案", "Closed"),
    "status.rejected": ("不予立案", "Rejected"),
    "status.duplicate": ("重复", "Duplicate"),
    "class.illegal_construction": ("违法建设", "Illegal construction"),
    "class.garbage_pile": ("暴露垃圾", "Garbage pile"),
    "role.pilot": ("飞手", "Pilot"),
    "role.reviewer": ("执法队员", "Reviewer"),
    "role.supervisor": ("中队长", "Supervisor"),
    "role.admin": ("管理员", "Administrator"),
    "kind.image": ("照片", "photo"),
    "kind.video": ("视频", "video"),
    "kind.telemetry": ("飞行记录", "telemetry"),
    "kind.sidecar": ("附属文件", "side file"),
}


def pick_lang(query: str | None, cookie: str | None) -> str:
    """?lang= first, then the cookie; otherwise zh-CN (the bureau's language), whatever the browser says."""
    for choice in (query, cookie):
        if choice in LANGS:
            return choice
        if choice and choice.lower().startswith("en"):
            return "en"
    return DEFAULT_LANG


def translator(lang: str) -> Callable[..., str]:
    index = 1 if lang == "en" else 0

    def t(key: str, **values: object) -> str:
        pair = MESSAGES.get(key)
        if pair is None:
            # an unknown status or class shows as itself rather than as a key
            return key.split(".", 1)[-1]
        text = pair[index]
        return text.format(**values) if values else text

    return t
