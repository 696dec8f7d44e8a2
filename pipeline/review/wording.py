"""What the database and the domain say in English, as the page says it: history notes, actors, refusals.

The stored text stays as written (it is the record and what the city's system receives); only the page
translates it, by the patterns the code writes. A server path never reaches a page: only the file's name.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from pipeline.cases import lifecycle
from pipeline.errors import PipelineError

# (pattern, zh-CN, en): the first that matches the whole text wins; {1}, {2} are its groups.
_NOTES: tuple[tuple[str, str, str], ...] = (
    (r"seen again", "再次发现", "seen again"),
    (
        r"seen again after case (\d+) was closed",
        "案件 {1} 结案后再次发现",
        "seen again after case {1} was closed",
    ),
    (r"(\d+) sightings?", "新增 {1} 次发现", "{1} new sightings"),
    (
        r"covered by (\S+) and (\d+) more frames and not seen",
        "照片 {1} 及另外 {2} 个画面拍到该位置，但未发现目标",
        "covered by {1} and {2} more frames and not seen",
    ),
    (r"covered by (.+) and not seen", "照片 {1} 拍到该位置，但未发现目标", "covered by {1} and not seen"),
    (r"area (\d+) -> (\d+) m2", "面积 {1} → {2} 平方米", "area {1} -> {2} m2"),
    (
        r"inside exclusion zone (\d+) \((.+)\): kept as evidence, no case",
        "位于排除区 {1}（{2}），保留为证据，不立案",
        "inside exclusion zone {1} ({2}): kept as evidence, no case",
    ),
    (
        r"zone (\d+) \((.+)\) removed by (\S+)",
        "排除区 {1}（{2}）已由 {3} 撤销",
        "zone {1} ({2}) removed by {3}",
    ),
    (r"zone (\d+): (.+)", "排除区 {1}：{2}", "zone {1}: {2}"),
    (r"lease of (.+) ran out", "{1} 的领取已过期", "{1}'s claim ran out"),
    (r"duplicate of case (\d+)", "与案件 {1} 重复", "duplicate of case {1}"),
    (r"case (\d+) merged in", "案件 {1} 并入本案", "case {1} merged in"),
    (r"from (\S+) to (\S+)", "由 {1} 改派给 {2}", "from {1} to {2}"),
    (r"to (\S+)", "派给 {1}", "to {1}"),
    (r"taken back: confirm(?:；(.*))?", "撤回“确认立案”{1}", "confirm taken back{1}"),
    (r"taken back: reject(?:；(.*))?", "撤回“不予立案”{1}", "reject taken back{1}"),
)
_PATH = re.compile(r"(?:[A-Za-z]:)?(?:[\\/][^\\/\s,;:()]+){2,}[\\/]([^\\/\s,;:()]+)")


def strip_paths(text: str) -> str:
    """`/srv/patrol/inbox/F1/DJI_0001.JPG` -> `DJI_0001.JPG`: the file's name, never where the server
    keeps it."""
    return _PATH.sub(lambda m: m.group(1), text)


def file_name(path: str | None) -> str:
    if not path:
        return ""
    return re.split(r"[\\/]", path.rstrip("/\\"))[-1]


def note_text(note: str | None, lang: str) -> str:
    if not note:
        return ""
    text = strip_paths(note.strip())
    for pattern, zh, en in _NOTES:
        m = re.fullmatch(pattern, text)
        if m:
            groups = [g or "" for g in m.groups()]
            if pattern.startswith("taken back") and groups and groups[0]:
                groups[0] = ("：" if lang != "en" else ": ") + groups[0]
            out = zh if lang != "en" else en
            for i, g in enumerate(groups, 1):
                out = out.replace(f"{{{i}}}", g)
            return out
    return text


def actor_text(actor: str, names: dict[str, str], t: Callable[..., str]) -> str:
    """The system's run as such; a person by their display name (their login name when they have none)."""
    if actor == lifecycle.SYSTEM_ACTOR:
        return t("actor.system")
    return names.get(actor) or actor


def case_error(err: PipelineError, lang: str, names: dict[str, str], tz_text: Callable[[object], str]) -> str:
    """A lifecycle refusal as the reviewer reads it."""
    en = lang == "en"
    if isinstance(err, lifecycle.HeldByOther):
        who = names.get(err.holder) or err.holder
        when = tz_text(err.until)
        return f"{who} is reviewing this case until {when}" if en else f"此案件正由 {who} 审核，{when} 到期"
    if isinstance(err, lifecycle.CaseChanged):
        return (
            "someone else changed this case a moment ago: reload it and look again"
            if en
            else "此案件刚刚被其他人处理，请刷新后查看"
        )
    if isinstance(err, lifecycle.NotFrom):
        if en:
            return f"not possible: the case is {err.status} now"
        return f"无法执行：案件当前状态为“{_STATUS_ZH.get(err.status, err.status)}”"
    if isinstance(err, lifecycle.UndoRefused):
        if en:
            return f"cannot undo: {err.why}"
        why = err.why
        if why.startswith("more than"):
            why = "已超过可撤销的时间，请中队长重新打开"
        elif why.startswith("the verdict is"):
            why = "该结论不是您作出的"
        else:
            why = "最近一步不是确认立案或不予立案"
        return f"无法撤销：{why}"
    if en:
        return err.reason
    if "a rejection needs a reason" in err.reason:
        return "请填写不予立案的原因"
    if "cannot be a duplicate of itself" in err.reason:
        return "案件不能与自身重复"
    if err.reason.startswith("no case"):
        return "案件不存在"
    if err.reason.startswith("no reviewer named"):
        return "没有这个审核人"
    if "say which case it duplicates" in err.reason:
        return "请选择与之重复的案件"
    if "cannot reassign" in err.reason:
        return "只能改派待审或审核中的案件"
    if "an empty note" in err.reason:
        return "备注不能为空"
    return err.reason


_STATUS_ZH = {
    "new": "新发现",
    "in_review": "审核中",
    "confirmed": "已立案",
    "dispatched": "已派遣",
    "resolved": "已处置",
    "closed": "已结案",
    "rejected": "不予立案",
    "duplicate": "重复",
}

# Why an uploaded file (or a frame) was not used, as the upload and the ingest word it.
_REASONS: tuple[tuple[str, str], ...] = (
    (r"empty file", "空文件"),
    (r"hidden file", "隐藏文件"),
    (r"another file has the same name", "与另一个文件同名"),
    (r"an archive inside an archive", "压缩包内的压缩包"),
    (
        r"DNG/TIFF raw photos are not processed: upload the camera's JPEGs",
        "不处理 DNG/TIFF 原始照片，请上传相机的 JPEG",
    ),
    (r"(\S+) photos are not processed: convert them to JPEG", "不处理 {1} 照片，请转换为 JPEG"),
    (
        r"PNG pictures are not drone photos this pipeline reads: upload the camera's JPEGs",
        "PNG 图片不是无人机照片，请上传相机的 JPEG",
    ),
    (r"cannot read: (.*)", "无法读取：{1}"),
    (r"not a regular file", "不是普通文件"),
    (r"not a JPEG: (.*)", "不是有效的 JPEG（{1}）"),
    (r"JPEG with a frame width of 0", "JPEG 宽度为 0"),
    (r"JPEG without its end marker: the file is truncated", "JPEG 不完整：文件被截断"),
    (r"not a PNG: no image header", "不是有效的 PNG"),
    (r"not a video: (.*)", "不是有效的视频（{1}）"),
    (r"not a video this pipeline reads \(ftyp brand (.*)\)", "不支持的视频格式（{1}）"),
    (r"video cut short.*", "视频不完整：文件被截断"),
    (r"video without its index \(moov box\): the recording was cut off", "视频缺少索引：录制中断"),
    (r"not a photo, video or telemetry file", "不是照片、视频或飞行记录文件"),
    (r"(\S+) file larger than (\d+) MiB", "{1} 文件超过 {2} MiB"),
    (r"(\S+) file that is not text", "{1} 文件不是文本"),
    (r"(\S+) file that is not UTF-8 text", "{1} 文件不是 UTF-8 文本"),
    (r"not DJI \.SRT telemetry", "不是大疆 .SRT 飞行记录"),
    (r"unreadable zip entry: (.*)", "压缩包中的文件无法读取：{1}"),
    (r"an Office document \((.*)\), not a photo or video", "Office 文档（{1}），不是照片或视频"),
    (r"a zip-based file \((.*)\) that is not a \.zip archive", "不是 .zip 压缩包的打包文件（{1}）"),
    (r"the same content as (.+) in flight (.+)", "与航次 {2} 中的 {1} 内容相同（重复上传）"),
    (r"the same content as (.+) in this upload", "与本次上传的 {1} 内容相同"),
    (r"no readable photo or video: this is not a flight", "没有可读的照片或视频：这不是一个航次"),
    (r"every photo and video was already received as flight (.+)", "所有照片和视频已作为航次 {1} 上传过"),
    (r"no files in the upload", "没有选择文件"),
    (r"more than (\d+) files in one upload", "一次上传超过 {1} 个文件"),
    (r"the upload is larger than (\d+) bytes", "上传总量超过 {1} 字节"),
    (r"larger than (\d+) bytes", "文件超过 {1} 字节"),
    (r"a file name that leaves the flight folder", "文件名指向航次文件夹之外"),
    (r"an absolute file name", "文件名是绝对路径"),
    (r"a file name holds control characters", "文件名含控制字符"),
    (r"a file name too long or too deeply nested", "文件名过长或层级过深"),
    (r"not a readable zip: (.*)", "无法读取的 zip 压缩包：{1}"),
    (r"expands to (\d+) bytes, over the upload limit", "解压后 {1} 字节，超过上传上限"),
    (
        r"expands to (\d+) bytes, (\d+) times its size: refused as a decompression bomb",
        "解压后 {1} 字节，是压缩包的 {2} 倍：按压缩炸弹拒收",
    ),
    (r"holds a link \((.*)\), refused", "压缩包内含链接（{1}），拒收"),
    (r"(.+) expands (\d+) times: refused as a decompression bomb", "{1} 解压后膨胀 {2} 倍：按压缩炸弹拒收"),
    (r"(.+) expands beyond the file size limit", "{1} 解压后超过单个文件上限"),
    (r"a zip entry expands beyond its declared size", "压缩包中的文件超过其声明大小"),
    (
        r"image declares (\S+) \((\d+) MP\), over the (\S+) MP limit.*",
        "图像声明 {1}（{2} 百万像素），超过 {3} 百万像素上限，未解码",
    ),
)


def reason_text(reason: str, lang: str) -> str:
    """A refusal reason (upload, file check, frame failure) in the page's language; paths reduced to names."""
    text = strip_paths(reason.strip())
    if lang == "en":
        return text
    for pattern, zh in _REASONS:
        m = re.fullmatch(pattern, text, flags=re.S)
        if m:
            out = zh
            for i, g in enumerate(m.groups(), 1):
                out = out.replace(f"{{{i}}}", g or "")
            return out
    return text


_DETAILS: tuple[tuple[str, str], ...] = (
    (r"not a date \(YYYY-MM-DD\): (.*)", "日期格式应为 年-月-日，而不是 {1}"),
    (r"unknown status (.*)", "未知的状态 {1}"),
    (r"unknown sort (\S+).*", "未知的排序方式 {1}"),
    (r"unknown action (.*)", "未知的操作 {1}"),
    (r"(\S+): too long", "参数 {1} 过长"),
)


def detail_text(detail: str, lang: str) -> str:
    """A request's refusal (an HTTP error's detail) in the page's language."""
    if lang == "en":
        return detail
    for pattern, zh in _DETAILS:
        m = re.fullmatch(pattern, detail)
        if m:
            out = zh
            for i, g in enumerate(m.groups(), 1):
                out = out.replace(f"{{{i}}}", g or "")
            return f"请求有误：{out}"
    return reason_text(detail, lang)
