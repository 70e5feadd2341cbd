"""The length of a post on X, counted exactly as X counts it: twitter-text's configuration v3.

X does not count code points. It counts *weighted* characters (``parseTweet`` in twitter-text):

1. the text is NFC-normalised first;
2. every URL X would auto-link counts as 23 (``transformedURLLength``), however long it is;
3. every emoji sequence (a ZWJ family, a flag, a keycap, an emoji with a skin tone) counts as 2;
4. any other code point weighs 1 if its UTF-16 code unit falls in one of the ``ranges`` (Latin,
   Greek, Cyrillic, Hebrew, Arabic... up to U+10FF, and some punctuation), else 2 (CJK, most symbols);
   a code point outside the BMP is weighed by its low surrogate, so it always counts 2.

A post is valid when its weighted length is between 1 and 280 and it contains none of
U+FFFE, U+FEFF, U+FFFF. Numbers: :data:`CONFIG_V3` (identical to twitter-text's ``config/v3.json``).

URLs are found the way twitter-text's ``extractUrlsWithIndices`` finds them: with or without
``http(s)://``, a domain whose top-level domain is one X knows (:data:`GENERIC_TLDS`,
:data:`COUNTRY_TLDS`, or punycode), an optional port, path and query with the same character rules,
``t.co`` links cut after their slug, and no label longer than 63 characters once punycode-encoded.

Emoji sequences follow the twemoji grammar twitter-text uses. Two deliberate approximations, both
rare in an agent's reply: a ZWJ sequence counts 2 even when it is not one of Unicode's recommended
sequences (twemoji would split an unknown one), and Unicode's ``Extended_Pictographic`` property (as the
``regex`` package knows it) decides what is an emoji. © and ® are not emoji, as in twemoji.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

import regex

# twitter-text config/v3.json (tests compare these with the vendor's file).
MAX_WEIGHTED_LENGTH = 280
SCALE = 100
DEFAULT_WEIGHT = 200
URL_LENGTH = 23
RANGES = ((0, 4351, 100), (8192, 8205, 100), (8208, 8223, 100), (8242, 8247, 100))
INVALID_CHARACTERS = "\ufffe\ufeff\uffff"
MAX_URL_LENGTH = 4096
MAX_TCO_SLUG_LENGTH = 40
MAX_LABEL_LENGTH = 63

#: Generic top-level domains twitter-text v3 recognises without a protocol (IANA list it ships).
_GENERIC_TLDS = (
    "삼성 닷컴 닷넷 香格里拉 餐厅 食品 飞利浦 電訊盈科 集团 通販 购物 谷歌 诺基亚 联通 网络 网站 网店 "
    "网址 组织机构 移动 珠宝 点看 游戏 淡马锡 机构 書籍 时尚 新闻 政府 政务 招聘 手表 手机 我爱你 慈善 "
    "微博 广东 工行 家電 娱乐 天主教 大拿 大众汽车 在线 嘉里大酒店 嘉里 商标 商店 商城 公益 公司 八卦 "
    "健康 信息 佛山 企业 中文网 中信 世界 ポイント ファッション セール ストア コム グーグル クラウド "
    "みんな คอม संगठन नेट कॉम همراه موقع موبايلي كوم كاثوليك عرب شبكة بيتك بازار العليان ارامكو اتصالات "
    "ابوظبي קום сайт рус орг онлайн москва ком католик дети zuerich zone zippo zip zero zara zappos yun "
    "youtube you yokohama yoga yodobashi yandex yamaxun yahoo yachts xyz xxx xperia xin xihuan xfinity "
    "xerox xbox wtf wtc wow world works work woodside wolterskluwer wme winners wine windows win "
    "williamhill wiki wien whoswho weir weibo wedding wed website weber webcam weatherchannel weather "
    "watches watch warman wanggou wang walter walmart wales vuelos voyage voto voting vote volvo "
    "volkswagen vodka vlaanderen vivo viva vistaprint vista vision visa virgin vip vin villas viking vig "
    "video viajes vet versicherung vermögensberatung vermögensberater verisign ventures vegas vanguard "
    "vana vacations ups uol uno university unicom uconnect ubs ubank tvs tushu tunes tui tube trv trust "
    "travelersinsurance travelers travelchannel travel training trading trade toys toyota town tours "
    "total toshiba toray top tools tokyo today tmall tkmaxx tjx tjmaxx tirol tires tips tiffany tienda "
    "tickets tiaa theatre theater thd teva tennis temasek telefonica telecity tel technology tech team "
    "tdk tci taxi tax tattoo tatar tatamotors target taobao talk taipei tab systems symantec sydney swiss "
    "swiftcover swatch suzuki surgery surf support supply supplies sucks style study studio stream store "
    "storage stockholm stcgroup stc statoil statefarm statebank starhub star staples stada srt srl "
    "spreadbetting spot sport spiegel space soy sony song solutions solar sohu software softbank social "
    "soccer sncf smile smart sling skype sky skin ski site singles sina silk shriram showtime show shouji "
    "shopping shop shoes shiksha shia shell shaw sharp shangrila sfr sexy sex sew seven ses services "
    "sener select seek security secure seat search scot scor scjohnson science schwarz schule school "
    "scholarships schmidt schaeffler scb sca sbs sbi saxo save sas sarl sapo sap sanofi sandvikcoromant "
    "sandvik samsung samsclub salon sale sakura safety safe saarland ryukyu rwe run ruhr rugby rsvp room "
    "rogers rodeo rocks rocher rmit rip rio ril rightathome ricoh richardli rich rexroth reviews review "
    "restaurant rest republican report repair rentals rent ren reliance reit reisen reise rehab "
    "redumbrella redstone red recipes realty realtor realestate read raid radio racing qvc quest quebec "
    "qpon pwc pub prudential pru protection property properties promo progressive prof productions prod "
    "pro prime press praxi pramerica post porn politie poker pohl pnc plus plumbing playstation play "
    "place pizza pioneer pink ping pin pid pictures pictet pics piaget physio photos photography photo "
    "phone philips phd pharmacy pfizer pet pccw pay passagens party parts partners pars paris panerai "
    "panasonic pamperedchef page ovh ott otsuka osaka origins orientexpress organic org orange oracle "
    "open ooo onyourside online onl ong one omega ollo oldnavy olayangroup olayan okinawa office off "
    "observer obi nyc ntt nrw nra nowtv nowruz now norton northwesternmutual nokia nissay nissan ninja "
    "nikon nike nico nhk ngo nfl nexus nextdirect next news newholland new neustar network netflix "
    "netbank net nec nba navy natura nationwide name nagoya nadex nab mutuelle mutual museum mtr mtpc mtn "
    "msd movistar movie mov motorcycles moto moscow mortgage mormon mopar montblanc monster money monash "
    "mom moi moe moda mobily mobile mobi mma mls mlb mitsubishi mit mint mini mil microsoft miami metlife "
    "merckmsd meo menu men memorial meme melbourne meet media med mckinsey mcdonalds mcd mba mattel "
    "maserati marshalls marriott markets marketing market map mango management man makeup maison maif "
    "madrid macys luxury luxe lupin lundbeck ltda ltd lplfinancial lpl love lotto lotte london lol loft "
    "locus locker loans loan llp llc lixil living live lipsy link linde lincoln limo limited lilly like "
    "lighting lifestyle lifeinsurance life lidl liaison lgbt lexus lego legal lefrak leclerc lease lds "
    "lawyer law latrobe latino lat lasalle lanxess landrover land lancome lancia lancaster lamer "
    "lamborghini ladbrokes lacaixa kyoto kuokgroup kred krd kpn kpmg kosher komatsu koeln kiwi kitchen "
    "kindle kinder kim kia kfh kerryproperties kerrylogistics kerryhotels kddi kaufen juniper juegos jprs "
    "jpmorgan joy jot joburg jobs jnj jmp jll jlc jio jewelry jetzt jeep jcp jcb java jaguar iwc iveco "
    "itv itau istanbul ist ismaili iselect irish ipiranga investments intuit international intel int "
    "insure insurance institute ink ing info infiniti industries inc immobilien immo imdb imamat ikano "
    "iinet ifm ieee icu ice icbc ibm hyundai hyatt hughes htc hsbc how house hotmail hotels hoteles hot "
    "hosting host hospital horse honeywell honda homesense homes homegoods homedepot holiday holdings "
    "hockey hkt hiv hitachi hisamitsu hiphop hgtv hermes here helsinki help healthcare health hdfcbank "
    "hdfc hbo haus hangout hamburg hair guru guitars guide guge gucci guardian group grocery gripe green "
    "gratis graphics grainger gov got gop google goog goodyear goodhands goo golf goldpoint gold godaddy "
    "gmx gmo gmbh gmail globo global gle glass glade giving gives gifts gift ggee george genting gent gea "
    "gdn gbiz gay garden gap games game gallup gallo gallery gal fyi futbol furniture fund fun fujixerox "
    "fujitsu ftr frontier frontdoor frogans frl fresenius free fox foundation forum forsale forex ford "
    "football foodnetwork food foo fly flsmidth flowers florist flir flights flickr fitness fit fishing "
    "fish firmdale firestone fire financial finance final film fido fidelity fiat ferrero ferrari "
    "feedback fedex fast fashion farmers farm fans fan family faith fairwinds fail fage extraspace "
    "express exposed expert exchange everbank events eus eurovision etisalat esurance estate esq erni "
    "ericsson equipment epson epost enterprises engineering engineer energy emerck email education edu "
    "edeka eco eat earth dvr dvag durban dupont duns dunlop duck dubai dtv drive download dot doosan "
    "domains doha dog dodge doctor docs dnp diy dish discover discount directory direct digital diet "
    "diamonds dhl dev design desi dentist dental democrat delta deloitte dell delivery degree deals "
    "dealer deal dds dclk day datsun dating date data dance dad dabur cyou cymru cuisinella csc cruises "
    "cruise crs crown cricket creditunion creditcard credit cpa courses coupons coupon country corsica "
    "coop cool cookingchannel cooking contractors contact consulting construction condos comsec computer "
    "compare company community commbank comcast com cologne college coffee codes coach clubmed club cloud "
    "clothing clinique clinic click cleaning claims cityeats city citic citi citadel cisco circle "
    "cipriani church chrysler chrome christmas chloe chintai cheap chat chase charity channel chanel cfd "
    "cfa cern ceo center ceb cbs cbre cbn cba catholic catering cat casino cash caseih case casa cartier "
    "cars careers career care cards caravan car capitalone capital capetown canon cancerresearch camp "
    "camera cam calvinklein call cal cafe cab bzh buzz buy business builders build bugatti budapest "
    "brussels brother broker broadway bridgestone bradesco box boutique bot boston bostik bosch boots "
    "booking book boo bond bom bofa boehringer boats bnpparibas bnl bmw bms blue bloomberg blog "
    "blockbuster blanco blackfriday black biz bio bingo bing bike bid bible bharti bet bestbuy best "
    "berlin bentley beer beauty beats bcn bcg bbva bbt bbc bayern bauhaus basketball baseball bargains "
    "barefoot barclays barclaycard barcelona bar bank band bananarepublic banamex baidu baby azure axa "
    "aws avianca autos auto author auspost audio audible audi auction attorney athleta associates asia "
    "asda arte art arpa army archi aramco arab aquarelle apple app apartments aol anz anquan android "
    "analytics amsterdam amica amfam amex americanfamily americanexpress alstom alsace ally allstate "
    "allfinanz alipay alibaba alfaromeo akdn airtel airforce airbus aigo aig agency agakhan africa afl "
    "afamilycompany aetna aero aeg adult ads adac actor active aco accountants accountant accenture "
    "academy abudhabi abogado able abc abbvie abbott abb abarth aarp aaa onion "
)
GENERIC_TLDS = frozenset(_GENERIC_TLDS.split())
#: Country-code top-level domains, internationalised ones included.
_COUNTRY_TLDS = (
    "한국 香港 澳門 新加坡 台灣 台湾 中國 中国 გე ລາວ ไทย ලංකා ഭാരതം ಭಾರತ భారత్ சிங்கப்பூர் இலங்கை "
    "இந்தியா ଭାରତ ભારત ਭਾਰਤ ভাৰত ভারত বাংলা भारोत भारतम् भारत ڀارت پاکستان موريتانيا مليسيا مصر قطر "
    "فلسطين عمان عراق سورية سودان تونس بھارت بارت ایران امارات المغرب السعودية الجزائر البحرين الاردن հայ "
    "қаз укр срб рф мон мкд ею бел бг ευ ελ zw zm za yt ye ws wf vu vn vi vg ve vc va uz uy us um uk ug "
    "ua tz tw tv tt tr tp to tn tm tl tk tj th tg tf td tc sz sy sx sv su st ss sr so sn sm sl sk sj si "
    "sh sg se sd sc sb sa rw ru rs ro re qa py pw pt ps pr pn pm pl pk ph pg pf pe pa om nz nu nr np no "
    "nl ni ng nf ne nc na mz my mx mw mv mu mt ms mr mq mp mo mn mm ml mk mh mg mf me md mc ma ly lv lu "
    "lt ls lr lk li lc lb la kz ky kw kr kp kn km ki kh kg ke jp jo jm je it is ir iq io in im il ie id "
    "hu ht hr hn hm hk gy gw gu gt gs gr gq gp gn gm gl gi gh gg gf ge gd gb ga fr fo fm fk fj fi eu et "
    "es er eh eg ee ec dz do dm dk dj de cz cy cx cw cv cu cr co cn cm cl ck ci ch cg cf cd cc ca bz by "
    "bw bv bt bs br bq bo bn bm bl bj bi bh bg bf be bd bb ba az ax aw au at as ar aq ao an am al ai ag "
    "af ae ad ac "
)
COUNTRY_TLDS = frozenset(_COUNTRY_TLDS.split())
#: Regions with an emoji flag (ISO 3166-1 and the extra Unicode regional-indicator pairs).
_FLAG_REGIONS = (
    "ACADAEAFAGAIALAMAOAQARASATAUAWAXAZBABBBDBEBFBGBHBIBJBLBMBNBOBQBRBSBTBVBWBYBZCACCCDCFCGCHCICKCLCMCNCO"
    "CPCRCUCVCWCXCYCZDEDGDJDKDMDODZEAECEEEGEHERESETEUFIFJFKFMFOFRGAGBGDGEGFGGGHGIGLGMGNGPGQGRGSGTGUGWGYHK"
    "HMHNHRHTHUICIDIEILIMINIOIQIRISITJEJMJOJPKEKGKHKIKMKNKPKRKWKYKZLALBLCLILKLRLSLTLULVLYMAMCMDMEMFMGMHMK"
    "MLMMMNMOMPMQMRMSMTMUMVMWMXMYMZNANCNENFNGNINLNONPNRNUNZOMPAPEPFPGPHPKPLPMPNPRPSPTPWPYQARERORSRURWSASB"
    "SCSDSESGSHSISJSKSLSMSNSOSRSSSTSVSXSYSZTATCTDTFTGTHTJTKTLTMTNTOTRTTTVTWTZUAUGUMUNUSUYUZVAVCVEVGVIVNVU"
    "WFWSXKYEYTZAZMZW"
)
FLAG_REGIONS = frozenset(_FLAG_REGIONS[i : i + 2] for i in range(0, len(_FLAG_REGIONS), 2))


@dataclass(frozen=True)
class PostLength:
    """What ``parseTweet`` reports: the weighted length, whether X accepts the text, and ‰ of 280."""

    weighted_length: int
    valid: bool
    permillage: int


def weighted_length(text: str) -> int:
    """The weighted length X counts for ``text`` (a :data:`bridge.text.Measure` for splitting)."""
    return parse_post(text).weighted_length


def is_valid_post(text: str) -> bool:
    """True when X accepts ``text`` as a post: 1 to 280 weighted characters, no invalid character."""
    return parse_post(text).valid


@functools.lru_cache(maxsize=4096)
def parse_post(text: str) -> PostLength:
    """Weigh ``text`` as twitter-text's ``parseTweet`` does with configuration v3."""
    normalized = unicodedata.normalize("NFC", text)
    urls = dict(url_spans(normalized))
    emoji = dict(emoji_spans(normalized))
    total, index = 0, 0
    while index < len(normalized):
        if index in urls:
            total, index = total + URL_LENGTH * SCALE, urls[index]
        elif index in emoji:
            total, index = total + DEFAULT_WEIGHT, emoji[index]
        else:
            total, index = total + _weight(normalized[index]), index + 1
    length = -(-total // SCALE)
    valid = 0 < length <= MAX_WEIGHTED_LENGTH and not any(c in normalized for c in INVALID_CHARACTERS)
    return PostLength(length, valid, length * 1000 // MAX_WEIGHTED_LENGTH)


def _weight(char: str) -> int:
    # twitter-text weighs UTF-16 code units; for a supplementary character it looks at the low surrogate.
    unit = ord(char)
    if unit <= RANGES[0][1]:  # the common case: Latin, Greek, Cyrillic... up to U+10FF
        return RANGES[0][2]
    if unit > 0xFFFF:
        unit = 0xDC00 + ((unit - 0x10000) & 0x3FF)
    return next((weight for start, end, weight in RANGES if start <= unit <= end), DEFAULT_WEIGHT)


# -- URLs: twitter-text's extractUrl regular expression, piece by piece --------------------------------------


def _trie(words: Iterable[str]) -> str:
    """One regular expression matching any of ``words``, as a trie (fast on 1,500 top-level domains)."""
    root: dict[str, dict] = {}  # type: ignore[type-arg]
    for word in words:
        node = root
        for char in word:
            node = node.setdefault(char, {})
        node[""] = {}
    return _trie_node(root)


def _trie_node(node: dict[str, dict]) -> str:  # type: ignore[type-arg]
    branches = [re.escape(char) + _trie_node(child) for char, child in sorted(node.items()) if char]
    if not branches:
        return ""
    if "" not in node:
        return branches[0] if len(branches) == 1 else f"(?:{'|'.join(branches)})"
    return f"(?:{'|'.join(branches)})?"


_PUNCT = re.escape("!'#%&()*+,\\-./:;<=>?@[]^_{|}~$")
_SPACES = r"\x09-\x0d\x20\x85\xa0\u1680\u180e\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
_INVALID = r"\ufffe\ufeff\uffff"
_DIRECTIONAL = r"\u202a-\u202e\u061c\u200e\u200f\u2066\u2067\u2068\u2069"
_LATIN_ACCENTS = (
    r"\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u00ff\u0100-\u024f\u0253\u0254\u0256\u0257\u0259\u025b\u0263"
    r"\u0268\u026f\u0272\u0289\u028b\u02bb\u0300-\u036f\u1e00-\u1eff"
)
_CYRILLIC = r"\u0400-\u04ff"
_PRECEDING = rf"(?:[^A-Za-z0-9@＠$#＃{_INVALID}]|[{_DIRECTIONAL}]|^)"
_DOMAIN_CHAR = rf"[^{_PUNCT}{_SPACES}{_INVALID}{_DIRECTIONAL}]"
_SUBDOMAIN = rf"(?:(?:{_DOMAIN_CHAR}(?:[_-]|{_DOMAIN_CHAR})*)?{_DOMAIN_CHAR}\.)"
_DOMAIN_NAME = rf"(?:(?:{_DOMAIN_CHAR}(?:-|{_DOMAIN_CHAR})*)?{_DOMAIN_CHAR}\.)"
_TLD_END = r"(?=[^0-9a-zA-Z@+-]|\Z)"
_TLD = rf"(?:{_trie(GENERIC_TLDS)}{_TLD_END}|{_trie(COUNTRY_TLDS)}{_TLD_END}|(?:xn--[\-0-9a-z]+))"
_DOMAIN = rf"(?:{_SUBDOMAIN}*{_DOMAIN_NAME}{_TLD})"
_PATH_CHAR = rf"[a-z{_CYRILLIC}0-9!*';:=+,.$/%#\[\]\-\u2013_~@|&{_LATIN_ACCENTS}]"
_PARENS = rf"\((?:{_PATH_CHAR}+|(?:{_PATH_CHAR}*\({_PATH_CHAR}+\){_PATH_CHAR}*))\)"
_PATH_END = rf"(?:[+\-a-z{_CYRILLIC}0-9=_#/{_LATIN_ACCENTS}]|(?:{_PARENS}))"
_PATH = rf"(?:(?:{_PATH_CHAR}*(?:{_PARENS}{_PATH_CHAR}*)*{_PATH_END})|(?:@{_PATH_CHAR}+/))"
_QUERY_CHAR = r"[a-z0-9!?*'@();:&=+$/%#\[\]\-_.,~|]"
_QUERY_END = r"[a-z0-9\-_&=#/]"
_QUERY = rf"\?{_QUERY_CHAR}*{_QUERY_END}"
# Groups as in twitter-text: 2 the preceding character, 3 the URL, 4 protocol, 5 domain, 7 path.
_EXTRACT_URL = re.compile(
    rf"(({_PRECEDING})((https?://)?({_DOMAIN})(?::([0-9]+))?(/{_PATH}*)?({_QUERY})?))", re.IGNORECASE
)
_ASCII_DOMAIN = re.compile(rf"(?:(?:[\-a-z0-9{_LATIN_ACCENTS}]+)\.)+{_TLD}", re.IGNORECASE)
_TCO = re.compile(rf"^https?://t\.co/([a-z0-9]+)(?:{_QUERY})?", re.IGNORECASE)
_BAD_BEFORE_BARE_URL = re.compile(r"[-_./]$")


def url_spans(text: str) -> list[tuple[int, int]]:
    """``(start, end)`` of every URL X would count as 23 in ``text`` (already NFC), in order."""
    if "." not in text:
        return []
    return [span for match in _EXTRACT_URL.finditer(text) for span in _spans_of(match)]


def _spans_of(match: re.Match[str]) -> list[tuple[int, int]]:
    before, url, protocol, domain, path = match.group(2, 3, 4, 5, 7)
    start, end = match.start(3), match.end(3)
    if not _valid_url(url, protocol or "https://", domain):
        return []
    if protocol:
        tco = _TCO.match(url)
        if tco is None:
            return [(start, end)]
        return [] if len(tco.group(1)) > MAX_TCO_SLUG_LENGTH else [(start, start + len(tco.group(0)))]
    if _BAD_BEFORE_BARE_URL.search(before):
        return []
    # Without a protocol only the ASCII domains count, and the path sticks to the last one.
    found = [(start + m.start(), start + m.end()) for m in _ASCII_DOMAIN.finditer(domain)]
    if found and path:
        found[-1] = (found[-1][0], end)
    return found


def _valid_url(url: str, protocol: str, domain: str) -> bool:
    """twitter-text's ``isValidUrl``: punycode labels of 1 to 63 characters, 4,096 characters at most."""
    if domain.startswith("xn--") and not _ASCII_DOMAIN.search(domain):
        return False
    if not all(1 <= len(_punycode(label)) <= MAX_LABEL_LENGTH for label in domain.split(".")):
        return False
    return len(protocol) + len(url.encode("utf-16-le", "surrogatepass")) // 2 <= MAX_URL_LENGTH


def _punycode(label: str) -> str:
    if all(ord(char) <= 0x7E for char in label):
        return label
    return "xn--" + label.encode("punycode").decode("ascii")


# -- emoji: the twemoji grammar --------------------------------------------------------------------------

_ZWJ, _VS16, _VS15, _KEYCAP = "\u200d", "\ufe0f", "\ufe0e", "\u20e3"
_KEYCAP_BASES = frozenset("#*0123456789")
_BLACK_FLAG = "\U0001f3f4"
_TAG_FLAGS = frozenset(
    "\U0001f3f4" + "".join(chr(0xE0000 + ord(c)) for c in tag) + "\U000e007f" for tag in ("gbeng", "gbsct", "gbwls")
)
_MODIFIER_BASES = (  # Unicode's Emoji_Modifier_Base: the characters a skin tone attaches to
    (0x261D, 0x261D), (0x26F7, 0x26F7), (0x26F9, 0x26F9), (0x270A, 0x270D), (0x1F385, 0x1F385),
    (0x1F3C2, 0x1F3C4), (0x1F3C7, 0x1F3C7), (0x1F3CA, 0x1F3CC), (0x1F442, 0x1F443), (0x1F446, 0x1F450),
    (0x1F466, 0x1F478), (0x1F47C, 0x1F47C), (0x1F481, 0x1F483), (0x1F485, 0x1F487), (0x1F48F, 0x1F48F),
    (0x1F491, 0x1F491), (0x1F4AA, 0x1F4AA), (0x1F574, 0x1F575), (0x1F57A, 0x1F57A), (0x1F590, 0x1F590),
    (0x1F595, 0x1F596), (0x1F645, 0x1F647), (0x1F64B, 0x1F64F), (0x1F6A3, 0x1F6A3), (0x1F6B4, 0x1F6B6),
    (0x1F6C0, 0x1F6C0), (0x1F6CC, 0x1F6CC), (0x1F90C, 0x1F90C), (0x1F90F, 0x1F90F), (0x1F918, 0x1F91F),
    (0x1F926, 0x1F926), (0x1F930, 0x1F939), (0x1F93C, 0x1F93E), (0x1F977, 0x1F977), (0x1F9B5, 0x1F9B6),
    (0x1F9B8, 0x1F9B9), (0x1F9BB, 0x1F9BB), (0x1F9CD, 0x1F9CF), (0x1F9D1, 0x1F9DD), (0x1FAC3, 0x1FAC5),
    (0x1FAF0, 0x1FAF8),
)  # fmt: skip


def emoji_spans(text: str) -> list[tuple[int, int]]:
    """``(start, end)`` of every emoji sequence in ``text``; each counts as one weight-2 character."""
    spans: list[tuple[int, int]] = []
    index = 0
    while index < len(text):
        end = _emoji_at(text, index)
        if end:
            spans.append((index, end))
        index = end or index + 1
    return spans


def _emoji_at(text: str, i: int) -> int:
    """The end of the emoji sequence starting at ``i``, or 0."""
    if text[i] < "#":  # nothing below U+0023 starts an emoji; spares most of a text's characters
        return 0
    return _keycap(text, i) or _flag(text, i) or _tag_flag(text, i) or _zwj_sequence(text, i) or _lone_vs16(text, i)


def _keycap(text: str, i: int) -> int:
    if text[i] not in _KEYCAP_BASES:
        return 0
    j = i + 2 if text[i + 1 : i + 2] == _VS16 else i + 1
    return j + 1 if text[j : j + 1] == _KEYCAP else 0


def _flag(text: str, i: int) -> int:
    if not _is_regional(text[i]):
        return 0
    pair = text[i : i + 2]
    valid = len(pair) == 2 and _is_regional(pair[1]) and _region(pair) in FLAG_REGIONS
    return i + 2 if valid else i + 1  # a lone regional indicator is an emoji of its own


def _tag_flag(text: str, i: int) -> int:
    if text[i] != _BLACK_FLAG:
        return 0
    return next((i + len(flag) for flag in _TAG_FLAGS if text.startswith(flag, i)), 0)


def _zwj_sequence(text: str, i: int) -> int:
    end = _element(text, i)
    while end and text[end : end + 1] == _ZWJ:
        following = _element(text, end + 1)
        if not following:
            break
        end = following
    return end


def _element(text: str, i: int) -> int:
    """One pictograph with its optional VS16 and skin tone, or 0."""
    if i >= len(text) or not _is_pictographic(text[i]):
        return 0
    end = i + 1
    if text[end : end + 1] == _VS15:
        return 0  # explicitly asked to be shown as text
    if text[end : end + 1] == _VS16:
        end += 1
    if end < len(text) and 0x1F3FB <= ord(text[end]) <= 0x1F3FF and _is_modifier_base(text[i]):
        end += 1
    return end


def _lone_vs16(text: str, i: int) -> int:
    return i + 1 if text[i] == _VS16 else 0


_PICTOGRAPHIC = regex.compile(r"\p{Extended_Pictographic}")


def _is_pictographic(char: str) -> bool:
    # © and ® (U+00A9, U+00AE) are pictographic too, but twemoji leaves them as text.
    return char > "\u00ae" and _PICTOGRAPHIC.match(char) is not None


def _is_modifier_base(char: str) -> bool:
    code = ord(char)
    return any(start <= code <= end for start, end in _MODIFIER_BASES)


def _is_regional(char: str) -> bool:
    return 0x1F1E6 <= ord(char) <= 0x1F1FF


def _region(pair: str) -> str:
    return "".join(chr(ord(char) - 0x1F1E6 + ord("A")) for char in pair)
