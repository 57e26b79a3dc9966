"""Every message in Chinese and English: the mechanism, and a walk over the package that keeps it complete."""

from __future__ import annotations

import ast
import logging
import pickle
from pathlib import Path

import pytest

import gisefficiency
from gisefficiency.core.errors import (
    ConfigError,
    CRSError,
    GisEfficiencyError,
    InputError,
    Problem,
    format_ids_zh,
    record_text,
)

PACKAGE = Path(gisefficiency.__file__).parent

#: Our error classes by name; subclasses defined anywhere in the package are added by the walk.
ERRORS = {"GisEfficiencyError", "ConfigError", "InputError", "CRSError", "PolicyFormatError"}
#: Helpers that raise a ConfigError from their message (policy presets, price schemes).
RAISING_HELPERS = {"fail", "_fail"}


def _name(func: ast.expr) -> str | None:
    return func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else None


def _trees() -> list[tuple[Path, ast.Module]]:
    return [(path, ast.parse(path.read_text(encoding="utf-8"))) for path in sorted(PACKAGE.rglob("*.py"))]


def _error_classes(trees) -> set[str]:
    names = set(ERRORS)
    while True:  # subclasses of subclasses, wherever they are defined
        more = {node.name for _, tree in trees for node in ast.walk(tree) if isinstance(node, ast.ClassDef)
                and any(_name(base) in names for base in node.bases)} - names
        if not more:
            return names
        names |= more


def _missing_chinese() -> list[str]:
    trees = _trees()
    errors = _error_classes(trees)
    missing = []
    for path, tree in trees:
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            name, keys = _name(node.func), {k.arg for k in node.keywords}
            where = f"{path.relative_to(PACKAGE.parent)}:{node.lineno} {name}"
            if name in errors or name in RAISING_HELPERS:
                if "zh" not in keys:
                    missing.append(f"{where}: no zh=")
            elif name == "Problem":
                if "message_zh" not in keys:
                    missing.append(f"{where}: no message_zh=")
                if "fix" in keys and "fix_zh" not in keys:
                    missing.append(f"{where}: a fix without fix_zh=")
            elif name == "warning" and isinstance(node.func, ast.Attribute) and _name(node.func.value) in ("log", "logger"):
                extra = next((k.value for k in node.keywords if k.arg == "extra"), None)
                if not (isinstance(extra, ast.Dict) and any(isinstance(k, ast.Constant) and k.value == "zh"
                                                            for k in extra.keys)):
                    missing.append(f"{where}: no extra={{'zh': ...}}")
    return missing


def test_every_error_problem_and_warning_of_the_package_has_chinese():
    # A new raise, Problem or logged warning without its Chinese text fails here, naming file and line.
    assert _missing_chinese() == []


def test_the_walk_finds_the_raise_sites():
    # The walk sees the package (not an empty folder): hundreds of messages, each with its Chinese.
    trees = _trees()
    errors = _error_classes(trees)
    calls = [n for _, t in trees for n in ast.walk(t) if isinstance(n, ast.Call)
             and (_name(n.func) in errors | RAISING_HELPERS | {"Problem"})]
    assert len(calls) > 300
    assert "PolicyFormatError" in errors


def test_problem_text_carries_file_row_column_and_value_in_both_languages():
    p = Problem("negative tax", fix="check the value", file="firms.xlsx", row=12, column="实缴税金", value=-3.5,
                message_zh="税金为负", fix_zh="请核对该值")
    assert str(p) == "firms.xlsx, row 12, column '实缴税金', value -3.5: negative tax -> check the value"
    assert p.text("en") == str(p)
    assert p.text("zh") == "文件 firms.xlsx，第 12 行，列 '实缴税金'，值 -3.5：税金为负 → 请核对该值"
    assert p.text("both", indent="  ") == p.text("zh") + "\n  " + str(p)
    assert p.text("both", labels=("警告 ", "warning ")) == "警告 " + p.text("zh") + "\nwarning " + str(p)


def test_problem_without_chinese_falls_back_to_english_once():
    p = Problem("odd", file="a.csv")
    assert p.text("zh") == "文件 a.csv：odd"
    assert p.text("both") == "a.csv: odd"  # not the same English twice


def test_errors_keep_english_str_and_give_chinese_by_text():
    exc = ConfigError("x.toml: [blocks] gap_m = -1.0: must be >= 0", zh="x.toml：[blocks] gap_m = -1.0：必须 >= 0")
    assert str(exc) == "x.toml: [blocks] gap_m = -1.0: must be >= 0"
    assert exc.text("zh") == "x.toml：[blocks] gap_m = -1.0：必须 >= 0"
    assert exc.text("both", labels=("错误：", "error: ")) == (
        "错误：x.toml：[blocks] gap_m = -1.0：必须 >= 0\nerror: x.toml: [blocks] gap_m = -1.0: must be >= 0")
    assert GisEfficiencyError("plain").text("both") == "plain"
    with pytest.raises(ConfigError, match=r"\[blocks\] gap_m = -1.0: must be >= 0"):
        raise exc


def test_input_error_lists_problems_in_each_language():
    problems = [Problem("no year", file="f.xlsx", row=3, message_zh="缺少年份"),
                Problem("bad code", file="f.xlsx", row=4, value="X", message_zh="代码有误")]
    exc = CRSError("f.xlsx: 2 problems", problems, zh="f.xlsx：2 个问题")
    assert str(exc) == "f.xlsx: 2 problems\n  - f.xlsx, row 3: no year\n  - f.xlsx, row 4, value 'X': bad code"
    assert exc.text("zh") == "f.xlsx：2 个问题\n  - 文件 f.xlsx，第 3 行：缺少年份\n  - 文件 f.xlsx，第 4 行，值 'X'：代码有误"
    assert exc.text("both").splitlines() == [
        "f.xlsx：2 个问题", "f.xlsx: 2 problems",
        "  - 文件 f.xlsx，第 3 行：缺少年份", "    f.xlsx, row 3: no year",
        "  - 文件 f.xlsx，第 4 行，值 'X'：代码有误", "    f.xlsx, row 4, value 'X': bad code",
    ]


def test_input_error_counts_the_problems_not_shown():
    exc = InputError("many", [Problem(f"p{i}", message_zh=f"问题{i}") for i in range(23)], zh="很多")
    assert exc.text("zh").endswith("\n  ……另有 3 条")
    assert str(exc).endswith("\n  ... and 3 more")


def test_errors_survive_pickling_with_their_chinese():
    # Errors cross process boundaries (workers): the Chinese must come along.
    exc = pickle.loads(pickle.dumps(InputError("bad", [Problem("x", message_zh="甲")], zh="坏")))
    assert exc.text("zh") == "坏\n  - 甲"
    assert pickle.loads(pickle.dumps(ConfigError("c", zh="配"))).zh == "配"


def test_log_records_carry_their_chinese():
    record = logging.LogRecord("gisefficiency.x", logging.WARNING, __file__, 1, "%s: unit %r unknown", ("f.shp", "尺"),
                               None)
    assert record_text(record, "en") == "f.shp: unit '尺' unknown"
    assert record_text(record, "zh") == "f.shp: unit '尺' unknown"  # no Chinese on the record: the English
    record.zh = "f.shp：单位 '尺' 无法识别"
    assert record_text(record, "both", labels=("警告：", "warning: ")) == (
        "警告：f.shp：单位 '尺' 无法识别\nwarning: f.shp: unit '尺' unknown")


def test_format_ids_zh_counts_the_rest():
    assert format_ids_zh([1, 2, 3, 4, 5, 6, 7]) == "1、2、3、4、5（另有 2 个）"
    assert format_ids_zh(["P1"]) == "P1"


def test_a_real_config_error_names_section_and_key_in_both_languages(tmp_path):
    from gisefficiency.config import load_config

    cfg = tmp_path / "c.toml"
    cfg.write_text("[blocks]\ngap_m = -1\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"\[blocks\] gap_m = -1.0: must be >= 0") as caught:
        load_config(cfg)
    assert f"{cfg}: [blocks] gap_m = -1.0：必须 >= 0" in caught.value.text("zh")


def test_a_preset_format_error_is_chinese_too(tmp_path):
    from gisefficiency.evaluate.policy import load_preset

    preset = tmp_path / "p.toml"
    preset.write_text('name = "p"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"p.toml: \[top level\] missing key 'title_zh'") as caught:
        load_preset(preset)
    assert caught.value.text("zh") == f"{preset}：[top level] 缺少键 'title_zh'"
