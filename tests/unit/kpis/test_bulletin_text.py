"""The bulletin's sentences: the seeds' paragraph told from figures in English and Chinese,
counts with their plural, numbers the language's way, the outflow that fell, rose, stayed or
has no data, the costs families avoided in yuan (in 万元 in Chinese), and figures without
records left out or said to be missing, never told as zero; the charts' geometry."""

from __future__ import annotations

from dataclasses import replace

import pytest

from medcircle.kit import i18n
from medcircle.kpis import bulletin_charts as charts
from medcircle.kpis.bulletin_text import (
    Figures,
    Month,
    notes,
    paragraphs,
    speaking,
    title,
    trend,
)

SEEDS = Figures(
    year=2016,
    region="130000",
    region_zh="河北省",
    region_en="Hebei",
    institutions=12,
    out_calls=24435,
    person_visits=30112,
    patients=10258,
    operations=0,
    consultations=510,
    referrals_up=118,
    referrals_down=313,
    kept_local=0,
    costs_avoided_yuan=0.0,
    outflow=((2013, 0.091), (2014, 0.088), (2015, None), (2016, 0.075)),
    local_rate=None,
    cleanroom_admissions=0,
    cleanroom_wait_days=None,
    cleanroom_occupancy=None,
    months=tuple(Month(f"2016-{m:02d}", 0, 0, 0) for m in range(1, 13)),
)


def told(f: Figures, locale: str) -> str:
    with speaking(locale):
        return "\n".join(paragraphs(f))


def test_the_seeds_paragraph_in_english() -> None:
    text = told(SEEDS, "en")
    assert text.startswith(
        "Altogether 12 hospitals in Beijing have taken part in the Beijing–Hebei medical "
        "cooperation, making 24,435 out-calls. Their experts worked 30,112 expert-days on site. "
        "A total number of 10,258 patients were received, and 510 remote consultations were held."
    )
    assert (
        "A total of 118 referrals were made up to higher-level hospitals, and 313 down to local "
        "hospitals. The proportion of Hebei patients released from secondary-level or above "
        "hospitals in Beijing decreased from 9.1 percent in 2013 to 7.5 percent in 2016."
    ) in text
    # no local treatment rate, no cleanrooms, no operations, no costs avoided: not told
    assert "local treatment" not in text and "cleanroom" not in text and "performed" not in text
    assert "Keeping care local" not in text and "yuan" not in text


def test_the_seeds_paragraph_in_chinese() -> None:
    text = told(SEEDS, "zh_Hans")
    assert text.startswith(
        "北京市共有12家医院参与京冀医疗合作，累计派出专家24,435人次。专家累计在岗30,112人·天。"
        "接诊患者10,258人次，开展远程会诊510例。"
    )
    assert "累计上转患者118人次，下转至基层医院313人次。" in text
    assert "由2013年的9.1%下降至2016年的7.5%。" in text
    with speaking("zh_Hans"):
        assert title(SEEDS) == "京冀医疗协作圈2016年度公报"
    # the reader's language is back after the block
    assert i18n.get_locale() == i18n.DEFAULT_LOCALE


def test_the_costs_families_avoided_follow_the_referrals() -> None:
    f = replace(SEEDS, kept_local=320, costs_avoided_yuan=1_234_567.8)
    assert (
        "A total of 118 referrals were made up to higher-level hospitals, and 313 down to local "
        "hospitals. Keeping care local through 320 referrals saved families an estimated "
        "1,234,568 yuan in travel and lodging. The proportion"
    ) in told(f, "en")
    # in Chinese, in 万元 to one decimal
    assert (
        "下转至基层医院313人次。通过320例转诊实现本地诊治，为患者家庭节省往返交通和住宿费用约"
        "123.5万元。"
    ) in told(f, "zh_Hans")
    # under 10,000 yuan, in yuan in both languages
    one = replace(SEEDS, kept_local=1, costs_avoided_yuan=2180.4)
    assert "through 1 referral saved families an estimated 2,180 yuan in" in told(one, "en")
    assert "通过1例转诊实现本地诊治，为患者家庭节省往返交通和住宿费用约2,180元。" in told(
        one, "zh_Hans"
    )


def test_counts_of_one_are_singular() -> None:
    one = replace(
        SEEDS,
        institutions=1,
        out_calls=1,
        person_visits=1,
        patients=1,
        operations=1,
        consultations=1,
        referrals_up=1,
    )
    text = told(one, "en")
    assert "Altogether 1 hospital in Beijing has taken part" in text
    assert "making 1 out-call." in text
    assert "Their experts worked 1 expert-day on site, and performed 1 operation." in text
    assert "A total number of 1 patient was received, and 1 remote consultation was held." in text
    assert "A total of 1 referral was made up" in text
    assert "北京市共有1家医院参与京冀医疗合作，累计派出专家1人次。" in told(one, "zh_Hans")


@pytest.mark.parametrize(
    ("outflow", "how", "en", "zh"),
    [
        (
            ((2013, 0.091), (2016, 0.075)),
            "fell",
            "decreased from 9.1 percent in 2013 to 7.5 percent in 2016.",
            "由2013年的9.1%下降至2016年的7.5%。",
        ),
        (
            ((2013, None), (2014, 0.05), (2016, 0.0712)),
            "rose",
            "rose from 5.0 percent in 2014 to 7.1 percent in 2016.",
            "由2014年的5.0%上升至2016年的7.1%。",
        ),
        (
            ((2013, 0.07501), (2016, 0.07499)),
            "unchanged",
            "was 7.5 percent in 2013 and still 7.5 percent in 2016.",
            "2013年为7.5%，2016年仍为7.5%。",
        ),
        (
            ((2015, None), (2016, 0.075)),
            "only",
            "hospitals in Beijing was 7.5 percent in 2016.",
            "2016年，北京市二级及以上医院出院患者中河北省患者占7.5%。",
        ),
        (
            ((2013, 0.091), (2016, None)),
            "none",
            "No discharges of the secondary-level or above hospitals in Beijing were imported "
            "for 2016, so the proportion of Hebei patients among them is not known.",
            "尚未导入2016年北京市二级及以上医院的出院数据，其中河北省患者所占比例暂缺。",
        ),
    ],
)
def test_the_outflow_fell_rose_stayed_or_is_not_known(
    outflow: tuple[tuple[int, float | None], ...], how: str, en: str, zh: str
) -> None:
    f = replace(SEEDS, outflow=outflow)
    assert trend(outflow, 2016) == how
    assert en in told(f, "en")
    assert zh in told(f, "zh_Hans")


def test_a_year_without_records_never_says_zero() -> None:
    empty = replace(
        SEEDS,
        institutions=0,
        out_calls=0,
        person_visits=0,
        patients=0,
        consultations=0,
        referrals_up=0,
        referrals_down=0,
        outflow=((2016, None),),
    )
    en = told(empty, "en")
    assert "No expert out-calls to Hebei were recorded in 2016." in en
    assert "No referrals of Hebei were recorded in 2016." in en
    assert " 0 " not in en and "patients were received" not in en
    zh = told(empty, "zh_Hans")
    assert "2016年未记录赴河北省的专家出诊。" in zh and "0人次" not in zh
    assert "节省" not in zh and "Keeping care local" not in en


def test_visits_by_experts_of_no_capital_hospital_and_cleanrooms() -> None:
    f = replace(
        SEEDS,
        institutions=0,
        out_calls=2,
        local_rate=0.8512,
        cleanroom_admissions=3,
        cleanroom_wait_days=31.04,
        cleanroom_occupancy=0.5,
    )
    en = told(f, "en")
    assert "Visiting experts made 2 out-calls to Hebei." in en
    assert "In 2016, 85.1 percent of the visits and admissions of Hebei residents" in en
    assert "The cleanrooms in Hebei admitted 3 patients after a mean wait of 31.0 days." in en
    assert "The cleanrooms were occupied on 50.0 percent of their days." in en
    zh = told(f, "zh_Hans")
    assert "河北省的层流仓共收治3名患者，平均等待31.0天。层流仓占用率为50.0%。" in zh


def test_the_footnotes_name_every_source_in_the_language() -> None:
    with speaking("en"):
        en = notes()
    with speaking("zh_Hans"):
        zh = notes()
    assert len(en) == len(zh) == 14
    assert en[0].startswith("Hospitals taking part: the institutions in Beijing")
    assert any(n.startswith("Out-calls: the number of the visit records") for n in en)
    assert any(n.startswith("外派出诊次数：") for n in zh)
    assert any(n.startswith("Family costs avoided: the travel and lodging costs") for n in en)
    assert any(n.startswith("为患者家庭节省费用：") for n in zh)


def test_the_charts_geometry() -> None:
    line = charts.line([("2013", 9.1), ("2014", None), ("2015", 8.0), ("2016", 7.5)])
    assert line["top"] == 10.0
    # the year without data breaks the line in two
    assert line["paths"] == ["48.0,38.0", "402.7,55.2 580.0,63.0"]
    bars = charts.bars(["01", "02"], [[4, 0], [1, 2]])
    assert bars["top"] == 4.0
    drawn = bars["bars"]
    assert [(b.series, b.value, b.height) for b in drawn] == [
        (0, 4, 156.0),
        (1, 1, 39.0),
        (0, 0, 0.0),
        (1, 2, 78.0),
    ]
    assert charts.bars([], [])["top"] == 1.0


@pytest.mark.parametrize(
    ("peak", "top", "ticks"),
    [
        (0, 1, [0, 1]),
        (1, 1, [0, 1]),
        (3, 3, [0, 1, 2, 3]),
        (7, 8, [0, 2, 4, 6, 8]),
        (11, 15, [0, 5, 10, 15]),
        (2043, 2500, [0, 500, 1000, 1500, 2000, 2500]),
        (24435, 25000, [0, 5000, 10000, 15000, 20000, 25000]),
    ],
)
def test_counts_are_scaled_in_whole_round_steps(peak: int, top: int, ticks: list[int]) -> None:
    chart = charts.bars(["01"], [[peak]])
    assert chart["top"] == top
    assert [t.value for t in chart["ticks"]] == ticks
