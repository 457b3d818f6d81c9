"""A synthetic Putuo: venues spread over the streets in proportion to their population,
every category present, the 35 large supermarkets and 32 standard wet markets of the seed
report (真南农副产品综合市场 among them), and the organisations that hold them: chains,
market operators with the shops they vouch for, property managers.

Everything follows from the seed, so the same seed gives the same district.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from placecode.venues.service import VENUE_ID_ALPHABET, VENUE_ID_LENGTH
from placecode.venues.uscc import ALPHABET as USCC_ALPHABET
from placecode.venues.uscc import check_character

VENUES = 19_782  # codes posted by 24 March 2022 (the seed report)
FIXED = {"large_supermarket": 35, "wet_market": 32}
ZHENNAN = "真南农副产品综合市场"
ZHENNAN_STREET = "zhenruzhen"

# How the rest of the venues split between categories (shares, normalised below).
CATEGORY_WEIGHTS = {
    "shop": 30,
    "restaurant": 15,
    "residential": 12,
    "convenience_store": 5,
    "office_building": 6,
    "express_point": 4,
    "pharmacy": 3,
    "industrial_park": 2,
    "school": 2,
    "hospital": 1.2,
    "hotel": 1.5,
    "culture_venue": 1,
    "sports_venue": 1.5,
    "government_office": 1,
    "transport_hub": 0.5,
    "mall": 0.5,
}

# Roads of each street (real road names of Putuo), for addresses.
ROADS = {
    "changshoulu": ["长寿路", "常德路", "陕西北路", "西康路", "胶州路", "昌化路", "莫干山路"],
    "caoyangxincun": ["曹杨路", "枣阳路", "兰溪路", "杏山路", "花溪路", "梅岭北路"],
    "changfengxincun": ["金沙江路", "大渡河路", "云岭东路", "白兰路", "泸定路", "中山北路"],
    "yichuanlu": ["宜川路", "陕西北路", "延长西路", "中山北路", "普善路"],
    "ganquanlu": ["甘泉路", "志丹路", "黄陵路", "宜川路", "新村路"],
    "shiquanlu": ["石泉路", "铜川路", "中潭路", "光新路", "岚皋路"],
    "zhenruzhen": ["真南路", "真北路", "曹杨路", "铜川路", "真华路", "兰溪路"],
    "wanli": ["万镇路", "新村路", "真华路", "大华路", "万荣路"],
    "changzheng": ["梅川路", "真北路", "同普路", "中江路", "怒江北路", "铜川路"],
    "taopu": ["桃浦路", "真南路", "祁连山路", "武威东路", "古浪路", "敦煌路"],
}

SURNAMES = list(
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高郑梁谢宋唐许韩冯邓曹彭曾萧田董潘袁蔡蒋余于杜叶程魏苏吕丁任卢姚沈钟姜崔谭陆范汪廖石金韦贾夏付方邹熊白孟秦邱侯江尹薛闫段雷龙黎史陶贺毛郝顾龚邵万覃武钱戴严莫孔向常"
)
SUPERMARKETS = [
    "联华超市",
    "世纪联华",
    "华润万家",
    "大润发",
    "家乐福",
    "乐购",
    "盒马鲜生",
    "麦德龙",
    "永辉超市",
    "沃尔玛",
    "卜蜂莲花",
    "易买得",
]
CONVENIENCE = ["全家", "罗森", "好德", "可的", "快客", "7-Eleven", "喜士多", "良友"]
GOODS = [
    "水果",
    "五金",
    "烟杂",
    "服装",
    "文具",
    "面包",
    "茶叶",
    "眼镜",
    "鲜花",
    "理发",
    "干洗",
    "手机维修",
    "粮油",
    "熟食",
    "母婴",
    "鞋店",
    "药酒",
    "百货",
]
DISHES = [
    "面馆",
    "馄饨",
    "本帮菜",
    "火锅",
    "生煎",
    "烧烤",
    "川菜馆",
    "小笼包",
    "麻辣烫",
    "快餐",
    "咖啡",
    "饺子馆",
    "粥铺",
    "湘菜馆",
]
ESTATE_WORDS = [
    "金沙",
    "阳光",
    "华府",
    "锦绣",
    "绿洲",
    "春晓",
    "祥和",
    "梅林",
    "兰园",
    "宝山",
    "怡景",
    "中环",
    "嘉利",
    "武宁",
    "清涧",
    "曹杨",
    "桃浦",
    "真如",
    "万里",
    "长风",
]
ESTATE_KINDS = ["新村", "苑", "花园", "小区", "公寓", "家园", "城"]
BUILDING_KINDS = ["大厦", "广场", "中心", "大楼"]
PATTERNS: dict[str, list[str]] = {
    "mall": ["{word}购物中心", "{road}{word}广场", "{word}百联商场"],
    "pharmacy": ["{brand}大药房", "{road}社区药店"],
    "hospital": ["{street}社区卫生服务中心", "{word}门诊部", "{word}医院", "{road}口腔诊所"],
    "school": ["{word}小学", "{word}中学", "{road}幼儿园", "{word}实验学校"],
    "industrial_park": ["{word}科技园", "{word}创意园", "{word}产业园"],
    "hotel": ["{word}宾馆", "{word}大酒店", "{road}商务酒店"],
    "culture_venue": ["{street}文化活动中心", "{word}图书馆", "{word}剧场"],
    "sports_venue": ["{word}健身房", "{word}游泳馆", "{road}羽毛球馆", "{word}体育中心"],
    "government_office": ["{street}社区事务受理服务中心", "{street}党群服务中心", "{road}居委会"],
    "transport_hub": ["{road}地铁站", "{word}公交枢纽"],
    "express_point": ["{brand}快递{road}网点", "{road}菜鸟驿站"],
}
PHARMACY_BRANDS = ["雷允上", "华氏", "第一医药", "益丰", "国大", "养和堂"]
EXPRESS_BRANDS = ["顺丰", "中通", "圆通", "韵达", "申通", "京东"]


@dataclass
class OrganisationPlan:
    id: str
    name: str
    kind: str  # an OrganisationKind value
    uscc: str
    street_code: str | None


@dataclass
class VenuePlan:
    id: str
    name: str
    address: str
    street_code: str
    category_code: str
    lon: float
    lat: float
    organisation_id: str | None = None
    operator_name: str | None = None
    delegated: bool = False


@dataclass
class DistrictPlan:
    venues: list[VenuePlan]
    organisations: list[OrganisationPlan]
    zhennan: VenuePlan
    extra: dict[str, Any] = field(default_factory=dict)


def _proportional(total: int, shares: list[float]) -> list[int]:
    """Whole counts in proportion to shares that add up to `total` (largest remainder)."""
    weights = np.asarray(shares, dtype=float)
    exact = weights / weights.sum() * total
    counts = np.floor(exact).astype(int)
    for index in np.argsort(-(exact - counts), kind="stable")[: total - counts.sum()]:
        counts[index] += 1
    return [int(count) for count in counts]


def category_counts(total: int, categories: list[str]) -> dict[str, int]:
    """How many venues of each category: the fixed ones, then the weights, at least one each."""
    counts = {code: FIXED.get(code, 0) for code in categories}
    rest = [code for code in categories if code not in FIXED]
    weights = [CATEGORY_WEIGHTS.get(code, 1.0) for code in rest]
    remaining = total - sum(counts.values()) - len(rest)  # one of each first
    for code, count in zip(rest, _proportional(remaining, weights), strict=True):
        counts[code] = count + 1
    return counts


def _uscc(rng: np.random.Generator, region: str = "310107") -> str:
    body = "91" + region + "".join(rng.choice(list(USCC_ALPHABET), size=9))
    return body + check_character(body)


class _Names:
    """Plausible, unique Chinese names and addresses."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng
        self.numbers: dict[str, int] = {}
        self.taken: set[str] = set()

    def pick(self, options: list[str]) -> str:
        return options[int(self.rng.integers(len(options)))]

    def address(self, street: str) -> tuple[str, str]:
        road = self.pick(ROADS[street])
        number = self.numbers.get(road, int(self.rng.integers(1, 40))) + int(
            self.rng.integers(1, 12)
        )
        self.numbers[road] = number
        return road, f"{road}{number}号"

    def name(self, category: str, street_name: str, road: str, address: str) -> str:
        short = street_name.removesuffix("街道").removesuffix("镇")
        word = self.pick(ESTATE_WORDS)
        if category == "large_supermarket":
            name = f"{self.pick(SUPERMARKETS)}（{road}店）"
        elif category == "wet_market":
            name = self.pick([f"{road}菜市场", f"{short}农副产品市场", f"{word}菜场"])
        elif category == "convenience_store":
            name = f"{self.pick(CONVENIENCE)}（{road}店）"
        elif category == "shop":
            name = f"{self.pick(SURNAMES)}记{self.pick(GOODS)}"
        elif category == "restaurant":
            name = f"{self.pick(SURNAMES)}家{self.pick(DISHES)}"
        elif category == "residential":
            lane = f"{road}{int(self.rng.integers(1, 1200))}弄"
            name = self.pick([f"{word}{self.pick(ESTATE_KINDS)}", lane])
        elif category == "office_building":
            name = f"{word}{self.pick(BUILDING_KINDS)}"
        else:
            brand = self.pick(EXPRESS_BRANDS if category == "express_point" else PHARMACY_BRANDS)
            name = self.pick(PATTERNS.get(category, ["{word}{road}"])).format(
                word=word, road=road, street=short, brand=brand
            )
        if name in self.taken:  # a second 王记水果 is told apart by its road, then number
            name = f"{name}（{road}）"
        if name in self.taken:
            name = f"{name.split('（')[0]}（{address}）"
        self.taken.add(name)
        return name


def plan_district(
    *,
    streets: list[dict[str, Any]],
    categories: list[str],
    total: int = VENUES,
    seed: int = 2022,
) -> DistrictPlan:
    """The venues and organisations of a district of `total` venues."""
    rng = np.random.default_rng(seed)
    names = _Names(rng)
    counts = category_counts(total, categories)
    kinds = np.repeat(np.array(list(counts)), list(counts.values()))
    rng.shuffle(kinds)
    codes = [s["code"] for s in streets]
    street_of = np.repeat(np.array(codes), _proportional(total, [s["pop_share"] for s in streets]))
    rng.shuffle(street_of)
    by_code = {s["code"]: s for s in streets}
    # 真南 is a wet market in 真如镇: give the first wet market that street.
    first_market = int(np.flatnonzero(kinds == "wet_market")[0])
    if street_of[first_market] != ZHENNAN_STREET:
        swap = int(np.flatnonzero(street_of == ZHENNAN_STREET)[0])
        street_of[[first_market, swap]] = street_of[[swap, first_market]]
    ids = rng.choice(list(VENUE_ID_ALPHABET), size=(total, VENUE_ID_LENGTH))
    spread = rng.normal(0.0, 0.006, size=(total, 2))
    venues: list[VenuePlan] = []
    seen_ids: set[str] = set()
    for index in range(total):
        category, street = str(kinds[index]), str(street_of[index])
        road, address = names.address(street)
        if index == first_market:
            name, address = ZHENNAN, "真南路1086号"
            names.taken.add(name)
        else:
            name = names.name(category, by_code[street]["name_zh"], road, address)
        venue_id = "".join(ids[index])
        while venue_id in seen_ids:
            venue_id = "".join(rng.choice(list(VENUE_ID_ALPHABET), size=VENUE_ID_LENGTH))
        seen_ids.add(venue_id)
        lon, lat = by_code[street]["centroid"]
        venues.append(
            VenuePlan(
                id=venue_id,
                name=name,
                address=address,
                street_code=street,
                category_code=category,
                lon=round(lon + float(spread[index, 0]), 6),
                lat=round(lat + float(spread[index, 1]), 6),
            )
        )
    organisations = _organise(venues, rng, by_code)
    return DistrictPlan(venues=venues, organisations=organisations, zhennan=venues[first_market])


def _organise(
    venues: list[VenuePlan], rng: np.random.Generator, streets: dict[str, dict[str, Any]]
) -> list[OrganisationPlan]:
    """Chains hold their stores; market operators hold their market and vouch for shops of
    their street; property managers hold the residential compounds of a street."""
    organisations: list[OrganisationPlan] = []
    ids = iter(f"org{n:05d}" for n in range(1, 100_000))

    def organisation(name: str, kind: str, street: str | None) -> OrganisationPlan:
        plan = OrganisationPlan(next(ids), name, kind, _uscc(rng), street)
        organisations.append(plan)
        return plan

    chains: dict[str, OrganisationPlan] = {}
    shops_by_street: dict[str, list[VenuePlan]] = {}
    for venue in venues:
        if venue.category_code == "shop":
            shops_by_street.setdefault(venue.street_code, []).append(venue)
    for venue in venues:
        if venue.category_code in ("large_supermarket", "convenience_store"):
            brand = venue.name.split("（", 1)[0]
            chain = chains.get(brand) or organisation(f"上海{brand}有限公司", "enterprise", None)
            chains[brand] = chain
            venue.organisation_id = chain.id
        elif venue.category_code == "wet_market":
            short = venue.name.split("（", 1)[0]
            operator = organisation(
                f"上海{short}经营管理有限公司", "market_operator", venue.street_code
            )
            venue.organisation_id = operator.id
            for shop in shops_by_street.get(venue.street_code, [])[:20]:
                if shop.organisation_id is None:  # stalls and shops the market vouches for
                    shop.organisation_id = operator.id
                    shop.operator_name = shop.name
                    shop.delegated = True
    for street, info in streets.items():
        estates = [
            v for v in venues if v.street_code == street and v.category_code == "residential"
        ]
        short = info["name_zh"].removesuffix("街道").removesuffix("镇")
        for number in range(0, len(estates), 60):
            manager = organisation(
                f"上海{short}物业管理有限公司第{number // 60 + 1}分公司", "property_manager", street
            )
            for estate in estates[number : number + 60]:
                estate.organisation_id = manager.id
    return organisations
