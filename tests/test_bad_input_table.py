"""Issue 11's bad-input table: every kind of bad input through `meta`, `detect`, `process`, `upload`, the web
upload and the public APIs, one row each, with its expected outcome and the test that shows it. The table is
the documentation; run `python tests/test_bad_input_table.py` to print it with its totals.

Outcomes:
- `clear error`: one line (or a 4xx JSON answer) naming the file or parameter and the reason; a non-zero exit
  or a 4xx; the files, frames and flights beside it go on.
- `handled`: used as far as it can be, and what could not be used is said where the user looks (a problem
  in `patrol meta`, a frame's note, "not searched" / "not placed" in the flight summary).
- `refused`: refused by policy before any use, with the reason (a pixel bomb unread, a file left out of an
  upload, a whole upload refused, a frame whose sources contradict each other recorded as failed).

Rows come from the tables the tests already hold (imported, so a row added there is a row here) and from
the single tests listed below. Each row names its test by node id; the test checks that every one exists.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CLEAR, HANDLED, REFUSED = "clear error", "handled", "refused"
OUTCOMES = (CLEAR, HANDLED, REFUSED)
# The totals this table documents (issue 11's closing note quotes them); test_totals keeps them true.
TOTALS = {CLEAR: 56, HANDLED: 54, REFUSED: 45}


@dataclass(frozen=True)
class Row:
    kind: str
    where: str  # the commands and routes it goes through
    outcome: str
    test: str  # pytest node id

    @property
    def test_file(self) -> Path:
        return ROOT / self.test.split("::", 1)[0]


def _single() -> list[Row]:
    """Kinds with a test of their own (not a row of a parametrized table)."""
    meta_bad = "tests/metadata/test_meta_bad_inputs.py"
    srt = "tests/metadata/test_meta_srt.py"
    names = "tests/test_ingest_names.py"
    bombs = "tests/test_pixel_bombs.py"
    cli = "tests/test_cli.py"
    upload = "tests/review/test_upload.py"
    morning = "tests/review/test_upload_morning.py"
    flows = "tests/flows"
    return [
        Row(
            "empty photo (0 bytes)",
            "meta",
            CLEAR,
            f"{meta_bad}::test_not_an_image_raises_one_line[zero bytes]",
        ),
        Row("text named .JPG", "meta", CLEAR, f"{meta_bad}::test_not_an_image_raises_one_line[text]"),
        Row("zeros named .JPG", "meta", CLEAR, f"{meta_bad}::test_not_an_image_raises_one_line[zeros]"),
        Row("missing file", "meta", CLEAR, f"{meta_bad}::test_missing_file_raises"),
        Row(
            "bad files among good ones",
            "meta",
            CLEAR,
            f"{cli}::test_meta_reads_the_good_files_around_a_bad_one",
        ),
        Row("JPEG cut in its image data", "meta", HANDLED, f"{meta_bad}::test_truncated_in_image_data"),
        Row(
            "JPEG cut before its frame header",
            "meta",
            HANDLED,
            f"{meta_bad}::test_truncated_before_frame_header",
        ),
        Row(
            "JPEG declaring 30000x30000",
            "meta",
            REFUSED,
            f"{meta_bad}::test_decompression_bomb_header_is_refused_unread",
        ),
        Row("no EXIF at all", "meta process", HANDLED, f"{meta_bad}::test_no_exif_at_all"),
        Row(
            "EXIF ref missing, XMP signed",
            "meta process",
            HANDLED,
            f"{meta_bad}::test_missing_ref_resolved_by_signed_xmp",
        ),
        Row(
            "EXIF GPS unusable, XMP has one",
            "meta process",
            HANDLED,
            f"{meta_bad}::test_xmp_position_used_when_exif_has_none",
        ),
        Row(
            "EXIF S/W against XMP positive: a frame",
            "process",
            REFUSED,
            f"{meta_bad}::test_the_refused_photo_is_a_failed_frame_naming_the_disagreement",
        ),
        Row(
            "XMP nested 8 x the recursion limit deep",
            "meta process",
            HANDLED,
            f"{meta_bad}::test_deeply_nested_xmp_is_a_problem_not_a_recursion_error",
        ),
        Row(
            "XMP entity bomb (billion laughs)",
            "meta process",
            REFUSED,
            "tests/metadata/test_meta_xmp.py::test_entity_bomb_inside_a_photo",
        ),
        Row(
            "XMP entity in a damaged packet",
            "meta process",
            REFUSED,
            "tests/metadata/test_meta_xmp_damaged.py::test_an_entity_in_a_damaged_packet_is_not_expanded",
        ),
        Row(
            "XMP external entity",
            "meta process",
            REFUSED,
            "tests/metadata/test_meta_xmp.py::test_external_entity_is_refused",
        ),
        Row(
            "XMP not well-formed",
            "meta process",
            HANDLED,
            "tests/metadata/test_meta_xmp.py::test_malformed_packet_read_by_pattern",
        ),
        Row(
            "XMP values out of range",
            "meta process",
            HANDLED,
            "tests/metadata/test_meta_xmp.py::test_out_of_range_values_are_problems",
        ),
        Row(
            "XMP pose value that is present but unreadable",
            "meta process",
            HANDLED,
            "tests/metadata/test_meta_unreadable.py::test_an_unreadable_xmp_pose_value_is_never_replaced_by_a_default",
        ),
        Row(
            "SRT time 99:99:99",
            "meta process",
            CLEAR,
            f"{srt}::test_times_that_are_not_times_refuse_the_file[99:99:99]",
        ),
        Row(
            "SRT time with 61 seconds",
            "meta process",
            CLEAR,
            f"{srt}::test_times_that_are_not_times_refuse_the_file[61 seconds]",
        ),
        Row(
            "SRT block ending before it starts",
            "meta process",
            CLEAR,
            f"{srt}::test_times_that_are_not_times_refuse_the_file[ends before it starts]",
        ),
        Row("SRT empty", "meta process", CLEAR, f"{srt}::test_junk_raises_telemetry_error[empty]"),
        Row("SRT of prose", "meta process", CLEAR, f"{srt}::test_junk_raises_telemetry_error[prose]"),
        Row(
            "SRT blocks without telemetry",
            "meta process",
            CLEAR,
            f"{srt}::test_junk_raises_telemetry_error[blocks without telemetry]",
        ),
        Row("SRT binary", "meta process", CLEAR, f"{srt}::test_junk_raises_telemetry_error[binary]"),
        Row(
            "SRT junk blocks among good ones",
            "meta process",
            HANDLED,
            f"{srt}::test_junk_blocks_are_skipped_not_fatal",
        ),
        Row(
            "SRT nan/inf values",
            "meta process",
            HANDLED,
            "tests/metadata/test_meta_unreadable.py::test_srt_nan_and_inf_never_reach_a_value",
        ),
        Row(
            "SRT out-of-range values",
            "meta process",
            HANDLED,
            "tests/metadata/test_meta_unreadable.py::test_srt_out_of_range_values_are_unreadable",
        ),
        Row(
            "SRT block with an unreadable position",
            "process",
            HANDLED,
            "tests/metadata/test_meta_unreadable.py::test_a_telemetry_block_with_an_unreadable_position_is_left_out_and_named",
        ),
        Row(
            "SRT with one block for a long video",
            "process",
            HANDLED,
            "tests/test_ingest.py::test_a_one_block_srt_does_not_give_every_later_frame_its_pose",
        ),
        Row(
            "SRT starting after the video",
            "process",
            HANDLED,
            "tests/test_ingest.py::test_a_1_hz_srt_that_starts_at_1_s_places_no_frame_of_the_first_half_second",
        ),
        Row(
            "SRT corrected after a run",
            "process",
            HANDLED,
            f"{flows}/test_healing.py::test_a_corrected_srt_takes_effect_on_the_rerun",
        ),
        Row(
            "FIFO named .JPG",
            "meta process",
            CLEAR,
            f"{bombs}::test_a_fifo_named_jpg_is_one_line_in_meta_and_ingest_not_a_hang",
        ),
        Row("bad PATROL_MAX_PIXELS", "meta", CLEAR, f"{bombs}::test_a_bad_limit_is_one_line_before_any_file"),
        Row(
            "pixel bomb among photos",
            "detect",
            REFUSED,
            f"{bombs}::test_detect_gives_one_line_per_bomb_and_detects_in_the_file_after",
        ),
        Row(
            "pixel bomb in a flight",
            "process",
            REFUSED,
            f"{flows}/test_healing.py::test_a_pixel_bomb_is_the_frames_own_fault_recorded_once_and_the_rest_goes_on",
        ),
        Row(
            "pixel bomb in an upload",
            "upload",
            REFUSED,
            f"{bombs}::test_upload_refuses_a_pixel_bomb_by_its_header_and_keeps_the_rest",
        ),
        Row(
            "file name not UTF-8",
            "process",
            HANDLED,
            f"{names}::test_a_non_utf8_name_is_left_out_with_its_bytes_escaped",
        ),
        Row(
            "folder name not UTF-8",
            "process",
            CLEAR,
            f"{names}::test_a_non_utf8_folder_is_one_line_naming_it",
        ),
        Row("file name not UTF-8", "meta", HANDLED, f"{names}::test_meta_shows_a_non_utf8_name_escaped"),
        Row(
            "file name not UTF-8",
            "upload web",
            REFUSED,
            f"{upload}::test_a_name_that_is_not_utf8_is_left_out_escaped_and_the_rest_lands",
        ),
        Row(
            "link to a file outside the flight",
            "process",
            REFUSED,
            f"{names}::test_a_link_out_of_the_flight_is_not_followed",
        ),
        Row(
            "two cards' 100MEDIA folders",
            "process",
            HANDLED,
            f"{names}::test_two_cards_100media_are_two_flights",
        ),
        Row(
            "pixel outside the image",
            "locate",
            CLEAR,
            f"{cli}::test_locate_a_pixel_outside_the_image_is_a_one_line_error",
        ),
        Row(
            "pixel above the horizon",
            "locate",
            CLEAR,
            f"{cli}::test_locate_above_the_horizon_is_a_one_line_error",
        ),
        Row(
            "photo without GPS", "locate", CLEAR, f"{cli}::test_locate_a_file_without_gps_is_a_one_line_error"
        ),
        Row(
            "gimbal at or above the horizon",
            "process",
            HANDLED,
            f"{flows}/test_not_searched.py::test_each_frame_says_why_it_was_not_searched_or_not_placed",
        ),
        Row(
            "frames not searched or not placed, in the summary",
            "process",
            HANDLED,
            f"{flows}/test_not_searched.py::test_the_flight_summary_counts_and_names_them",
        ),
        Row(
            "corrupt frame in a flight",
            "process",
            CLEAR,
            f"{flows}/test_process_cli.py::test_json_summary_and_a_corrupt_frame_is_recorded_and_skipped",
        ),
        Row(
            "a flight that fails among good ones",
            "process",
            CLEAR,
            f"{flows}/test_process_cli.py::test_a_flight_that_fails_does_not_sink_the_others",
        ),
        Row(
            "not a folder",
            "process",
            CLEAR,
            f"{flows}/test_process_cli.py::test_not_a_folder_is_a_one_line_error",
        ),
        Row(
            "/nonexistent before a good flight",
            "process",
            CLEAR,
            f"{flows}/test_process_cli.py::test_a_missing_folder_among_good_ones_does_not_stop_them",
        ),
        Row(
            "missing model",
            "process",
            CLEAR,
            f"{flows}/test_process_cli.py::test_a_missing_model_is_a_one_line_error_before_any_flow",
        ),
        Row(
            "full disk under the evidence",
            "process",
            HANDLED,
            f"{flows}/test_healing.py::test_a_full_disk_under_the_evidence_is_not_a_frames_verdict",
        ),
        Row(
            "model failing once",
            "process",
            HANDLED,
            f"{flows}/test_healing.py::test_a_detector_that_fails_once_then_works_gives_the_full_cases_on_rerun",
        ),
        Row(
            "names leaving the folder",
            "upload web",
            REFUSED,
            f"{upload}::test_names_that_leave_the_folder_are_refused",
        ),
        Row("not a flight", "upload web", REFUSED, f"{upload}::test_not_a_flight"),
        Row(
            "zip slip",
            "upload web",
            REFUSED,
            f"{upload}::test_zip_slip_is_refused_before_anything_is_written",
        ),
        Row("links in a zip", "upload web", REFUSED, f"{upload}::test_links_in_a_zip_are_refused"),
        Row("zip bomb (one big entry)", "upload web", REFUSED, f"{upload}::test_a_zip_bomb_is_refused"),
        Row("too many or too large files", "upload web", REFUSED, f"{upload}::test_limits"),
        Row(
            "content type that lies",
            "web",
            HANDLED,
            f"{upload}::test_content_type_is_judged_by_content_not_by_name",
        ),
        Row("oversized request", "web", REFUSED, f"{upload}::test_oversized_requests_are_cut_off"),
        Row(
            "killed upload's staging",
            "upload web",
            HANDLED,
            f"{upload}::test_a_killed_upload_leaves_staging_that_the_next_start_removes",
        ),
        Row(
            "the same frames uploaded again",
            "upload web",
            REFUSED,
            f"{morning}::test_the_same_frames_again_are_refused_and_never_counted_twice",
        ),
        Row(
            "zip with GBK names",
            "upload web",
            HANDLED,
            f"{morning}::test_a_zip_from_chinese_windows_keeps_its_names",
        ),
        Row(
            "a loose .docx",
            "upload web",
            REFUSED,
            f"{morning}::test_a_loose_word_file_is_one_unsupported_file",
        ),
        Row(
            "polyglots over HTTP",
            "web",
            REFUSED,
            "tests/review/test_bad_input.py::test_polyglots_are_refused_over_http",
        ),
        Row(
            "small-entry zip bomb over HTTP",
            "web",
            REFUSED,
            "tests/review/test_bad_input.py::test_the_small_entry_bomb_is_refused_over_http",
        ),
        Row(
            "control characters in an Open311 note",
            "open311",
            HANDLED,
            "tests/cases/test_cases_outside.py::test_xml_stays_well_formed_and_notes_are_not_published",
        ),
    ]


def _from_tables() -> list[Row]:
    """Rows of the parametrized tables, with each one's outcome read from what the table expects."""
    from tests.cases.test_cases_outside import OPEN311_ROWS
    from tests.metadata.test_meta_bad_inputs import EXIF_CASES, POSITION_ROWS
    from tests.metadata.test_meta_unreadable import XMP_ROWS
    from tests.metadata.test_meta_xmp_damaged import DAMAGED
    from tests.review.test_api_bounds import ROWS as API_ROWS
    from tests.review.test_bad_input import FILE_ROWS, UPLOAD_ROWS
    from tests.test_pixel_bombs import BOMBS

    meta_bad = "tests/metadata/test_meta_bad_inputs.py"
    rows = [
        # EXIF oddities that are named among the photo's problems (the rest of that table are good files)
        Row(f"EXIF: {case}", "meta process", HANDLED, f"{meta_bad}::test_exif_oddities[{case}]")
        for case, _, _, problem in EXIF_CASES
        if problem is not None
    ]
    rows += [
        Row(
            f"EXIF vs XMP: {row}",
            "meta process",
            REFUSED if problem else HANDLED,
            f"{meta_bad}::test_exif_and_xmp_positions[{row}]",
        )
        for row, _, _, _, problem in POSITION_ROWS
    ]
    rows += [
        Row(
            f"XMP: {row}",
            "meta process",
            HANDLED,
            f"tests/metadata/test_meta_unreadable.py::test_an_unreadable_xmp_pose_value_is_never_replaced_by_a_default[{row}]",
        )
        for row, *_ in XMP_ROWS
    ]
    rows += [
        Row(
            f"damaged XMP: {row}",
            "meta process",
            HANDLED,
            "tests/metadata/test_meta_xmp_damaged.py::"
            f"test_fields_of_a_damaged_packet_are_recovered_as_exiftool_reads_them[{row}]",
        )
        for row, *_ in DAMAGED
    ]
    rows += [
        Row(
            f"pixel bomb: {kind}",
            "meta process",
            REFUSED,
            f"tests/test_pixel_bombs.py::test_load_frame_refuses_it_by_its_header_without_decoding[{kind}]",
        )
        for kind, *_ in BOMBS
    ]
    rows += [
        Row(
            f"upload: {row}",
            "upload web",
            REFUSED,
            f"tests/review/test_bad_input.py::test_upload_table[{row}]",
        )
        for row, _, _, outcome, _ in UPLOAD_ROWS
        if outcome != "stored"
    ]
    rows += [
        Row(f"served file: {row}", "web", REFUSED, f"tests/review/test_bad_input.py::test_files_table[{row}]")
        for row, _, _, outcome, _ in FILE_ROWS
        if outcome == "download"
    ]
    rows += [
        Row(
            f"Open311: {row}",
            "open311",
            CLEAR if status >= 400 else HANDLED,
            f"tests/cases/test_cases_outside.py::test_open311_bad_requests_are_4xx[{row}]",
        )
        for row, _, status, _ in OPEN311_ROWS
    ]
    rows += [
        Row(
            f"review API: {row}",
            "review api",
            CLEAR if status >= 400 else HANDLED,
            f"tests/review/test_api_bounds.py::test_reads[{row}]",
        )
        for row, _, status in API_ROWS
    ]
    return rows


def table() -> list[Row]:
    return _single() + _from_tables()


def test_every_row_names_an_outcome_and_a_test_that_exists() -> None:
    rows = table()
    assert len({(r.kind, r.where) for r in rows}) == len(rows), "a kind appears twice"
    for row in rows:
        assert row.outcome in OUTCOMES, row
        assert row.test_file.is_file(), row
        text = row.test_file.read_text(encoding="utf-8")
        name, _, param = row.test.split("::", 1)[1].partition("[")
        assert re.search(rf"^def {re.escape(name)}\(", text, re.MULTILINE), row
        # A parametrized test's row id is a literal of its table or ids list.
        assert not param or param.rstrip("]") in text, row


def test_totals() -> None:
    counts = Counter(r.outcome for r in table())
    print(_render(table()))
    assert dict(counts) == TOTALS, dict(counts)


def _render(rows: list[Row]) -> str:
    width = max(len(r.kind) for r in rows)
    lines = [f"{r.outcome:12} {r.kind:{width}}  [{r.where}]  {r.test}" for r in rows]
    counts = Counter(r.outcome for r in rows)
    total = ", ".join(f"{counts[o]} {o}" for o in OUTCOMES)
    return "\n".join([*lines, f"{len(rows)} kinds: {total}"])


if __name__ == "__main__":
    import sys

    sys.path.insert(0, str(ROOT))
    print(_render(table()))
