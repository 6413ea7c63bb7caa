"""Each PII type: valid values are found whole, look-alikes are not, neighbours are untouched."""

from __future__ import annotations

import pytest

from filters.pii import PiiDetector, all_types

DETECTOR = PiiDetector(all_types())


def found(text: str) -> list[tuple[str, str]]:
    return [(s.kind, text[s.start : s.end]) for s in DETECTOR.find(text)]


@pytest.mark.parametrize(
    "text, value",
    [
        ("Write to john.doe@example.com today.", "john.doe@example.com"),
        ("o'brien+news@mail.example.co.uk", "o'brien+news@mail.example.co.uk"),
        ("{ops}!#$%&*=?^_`|~-x@company.io", "{ops}!#$%&*=?^_`|~-x@company.io"),
        ('quoted "john..doe"@example.org is valid', '"john..doe"@example.org'),
        ("literal user@[192.168.2.1] and more", "user@[192.168.2.1]"),
        ("punycode test@xn--hxajbheg2az3al.xn--jxalpdlp.", "test@xn--hxajbheg2az3al.xn--jxalpdlp"),
        ("请联系zhang.san@example.cn获取资料", "zhang.san@example.cn"),
        ("in quotes 'bob@example.com' here", "bob@example.com"),
    ],
)
def test_email_found_whole(text: str, value: str) -> None:
    assert ("email", value) in found(text)


@pytest.mark.parametrize(
    "text",
    [
        "ssh user@localhost then",  # dotless domain: off by default
        "icon logo@2x.png in css",  # retina asset
        "npm install lodash@4.17.21",  # package version
        "a@b@c.com is two ats",  # no valid local part before the last @ ... only c.com side
        "double dot john..doe@example.com",
        "trailing dot john.@example.com",
    ],
)
def test_email_look_alikes(text: str) -> None:
    values = [v for k, v in found(text) if k == "email"]
    assert all(v.count("@") == 1 and ".." not in v.split("@")[0] for v in values)
    assert "user@localhost" not in values and "logo@2x.png" not in values
    assert not any(v.startswith("lodash@") for v in values)
    assert "john.@example.com" not in values and "john..doe@example.com" not in values


def test_email_dotless_domain_when_configured() -> None:
    det = PiiDetector(["email"], email_allow_dotless_domain=True)
    text = "root@localhost"
    assert [(s.kind, text[s.start : s.end]) for s in det.find(text)] == [("email", "root@localhost")]


@pytest.mark.parametrize(
    "text, value",
    [
        ("Call (415) 555-2671 now", "(415) 555-2671"),
        ("Call +1-415-555-2671.", "+1-415-555-2671"),
        ("UK office +44 20 7946 0958", "+44 20 7946 0958"),
        ("London 020 7946 0958", "020 7946 0958"),
        ("电话13800138000谢谢", "13800138000"),
        ("手机：138 0013 8000。", "138 0013 8000"),
        ("北京010-65612308转", "010-65612308"),
        ("Berlin +49 (0)30 1234567", "+49 (0)30 1234567"),
        ("Paris 01 42 68 53 00", "01 42 68 53 00"),
        ("from the US dial 011 44 20 7946 0958", "011 44 20 7946 0958"),
        ("intl 0049 30 12345678 ok", "0049 30 12345678"),
        ("ext +1-604-696-5272x565", "+1-604-696-5272x565"),
        ("Fax: 9498777106", "9498777106"),
    ],
)
def test_phone_found(text: str, value: str) -> None:
    assert [v for k, v in found(text) if k == "phone"] == [value]


@pytest.mark.parametrize(
    "text",
    [
        "Published 2023-04-07 by the editor.",
        "On 07/04/2023 the shop closed.",
        "It costs $1,299.00 today, or 1 299 000 € for the villa.",
        "售价¥13800元",
        "Upgrade to version 1.2.3.4 in prose.",
        "Chrome 118.0.5993.117 is out",
        "ISBN 978-3-16-148410-0 (hardcover), ISBN-13: 9783161484100",
        "Order #2125550123 shipped; invoice No. 4155552671 attached.",
        "VAT DE123456789 and FR 12 345678901",
        "Timestamp 1590348492 and 1590348492427",
        "Counts: 12 34 56 78 90 11",
        "红球05 06 23 28 35",
        "Seasons 1998-2004 were the best.",
        "比赛时间：2023-07-21 10：30：00",
        "Coordinates 40.7128, -74.0060",
    ],
)
def test_phone_look_alikes(text: str) -> None:
    assert found(text) == []


@pytest.mark.parametrize(
    "text, value",
    [
        ("Card 4111 1111 1111 1111 exp 12/29", "4111 1111 1111 1111"),
        ("Amex 3782-822463-10005.", "3782-822463-10005"),
        ("visa 4012888888881881", "4012888888881881"),
        ("卡号6011111111111117请保密", "6011111111111117"),
        ("Card 4111 1111 1111 1111 2019", "4111 1111 1111 1111"),
    ],
)
def test_card_found(text: str, value: str) -> None:
    assert [v for k, v in found(text) if k == "credit_card"] == [value]


@pytest.mark.parametrize(
    "text",
    [
        "Card 4111 1111 1111 1112 (Luhn fails)",
        "serial 1234567812345670 passes Luhn but no issuer starts with 12",
        "order 7992739871300 (Luhn ok, no issuer)",
    ],
)
def test_card_look_alikes(text: str) -> None:
    assert not [k for k, _ in found(text) if k == "credit_card"]


@pytest.mark.parametrize(
    "text, value",
    [
        ("IBAN DE89 3704 0044 0532 0130 00 is mine", "DE89 3704 0044 0532 0130 00"),
        ("GB82WEST12345698765432.", "GB82WEST12345698765432"),
        ("lower gb82west12345698765432 ok", "gb82west12345698765432"),
        ("账号DE89370400440532013000谢谢", "DE89370400440532013000"),
        ("FR1420041010050500013M02606", "FR1420041010050500013M02606"),
    ],
)
def test_iban_found(text: str, value: str) -> None:
    assert found(text) == [("iban", value)]


@pytest.mark.parametrize(
    "text",
    [
        "bad check GB82 WEST 1234 5698 7654 33",
        "bad check DE88370400440532013000",
        "wrong length DE89 3704 0044 0532 0130 0",
        "unknown country ZZ89370400440532013000",
    ],
)
def test_iban_look_alikes(text: str) -> None:
    assert not [k for k, _ in found(text) if k == "iban"]


def test_us_ssn() -> None:
    assert found("SSN 123-45-6789.") == [("us_ssn", "123-45-6789")]
    assert found("SSN: 123456789") == [("us_ssn", "123456789")]
    assert found("社会安全号123-45-6789。") == [("us_ssn", "123-45-6789")]
    for bad in ("000-12-3456", "666-12-3456", "900-12-3456", "123-00-4567", "123-45-0000", "123-45-67890"):
        assert found(f"id {bad} here") == [], bad
    assert found("nine digits 123456789 without a label") == []


def test_cn_id() -> None:
    assert found("身份证11010519491231002X。") == [("cn_id", "11010519491231002X")]
    assert found("身份证号码：11010519491231002x") == [("cn_id", "11010519491231002x")]
    assert found("身份证110105194912310021。") == []  # wrong check character
    assert found("编号110105194913310025") == []  # month 13


@pytest.mark.parametrize(
    "text, value",
    [
        ("ip 8.8.4.4 and", "8.8.4.4"),
        ("服务器203.0.113.7已下线", "203.0.113.7"),
        ("private 192.168.0.1:8080", "192.168.0.1"),
        ("v6 2001:db8:85a3::8a2e:370:7334.", "2001:db8:85a3::8a2e:370:7334"),
        ("link-local fe80::1ff:fe23:4567:890a%eth0 up", "fe80::1ff:fe23:4567:890a%eth0"),
        ("IP address: 1.2.3.4", "1.2.3.4"),
    ],
)
def test_ip_found(text: str, value: str) -> None:
    assert found(text) == [("ip_address", value)]


@pytest.mark.parametrize(
    "text",
    [
        "Upgrade to version 1.2.3.4 in prose.",
        "See section 1.1.2.1 for details.",
        "build 10.0.19045.3570 of Windows",
        "numbers 1.2.3.4.5 and 256.1.1.1",
        "time 12:20:39 and std::vector and a::b and de:ad:be:ef",
        "MAC 00:1A:2B:3C:4D:5E",
    ],
)
def test_ip_look_alikes(text: str) -> None:
    assert not [k for k, _ in found(text) if k == "ip_address"]


def test_ip_public_only() -> None:
    det = PiiDetector(["ip_address"], ip_public_only=True)
    text = "lan 192.168.0.1, 10.0.0.1, fe80::1:2 and wan 93.184.216.34, 2606:4700:4700::1111"
    assert [text[s.start : s.end] for s in det.find(text)] == ["93.184.216.34", "2606:4700:4700::1111"]


JWT = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0."
    "dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"
)


@pytest.mark.parametrize(
    "text, value",
    [
        ("key AKIAIOSFODNN7EXAMPLE in config", "AKIAIOSFODNN7EXAMPLE"),
        ("token ghp_" + "a1B2" * 9 + " leaked", "ghp_" + "a1B2" * 9),
        ("gitlab glpat-xxxxxxxxxxxxxxxxxxxx.", "glpat-xxxxxxxxxxxxxxxxxxxx"),
        (
            "slack xoxb-123456789012-123456789012-abcdefABCDEF0123",
            "xoxb-123456789012-123456789012-abcdefABCDEF0123",
        ),
        (f"Authorization: Bearer {JWT}", JWT),
        (
            "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        ),
        ("db postgres://admin:hunter2@db.example.com/app", "hunter2"),
    ],
)
def test_secret_found(text: str, value: str) -> None:
    assert found(text) == [("secret", value)]


def test_private_key_block_and_truncated_block() -> None:
    block = (
        "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo\n-----END RSA PRIVATE KEY-----"
    )
    assert found(f"before\n{block}\nafter") == [("secret", block)]
    truncated = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ"
    assert found(truncated + "\n\nThe key above was cut.") == [("secret", truncated)]


def test_secret_look_alikes() -> None:
    assert found("the word AKIAIOSFODNN7 is short; eyJhbGciOi alone is not a JWT") == []
    assert found("url https://example.com/user@host and mailto:x") == []
    fake_jwt = "eyJub3QganNvbg.eyJzdWIiOiIxIn0.abcdefghijklmnop"  # header does not decode to JSON
    assert found(fake_jwt) == []


def test_url_digits_are_not_phones_or_cards() -> None:
    text = "see https://news.example.com/2023/04/4111111111111111/2125550123 and www.x.cn/a/13800138000"
    assert found(text) == []


def test_cjk_neighbours_untouched() -> None:
    text = "王先生的邮箱是wang@example.cn，电话13800138000，卡号4111111111111111，谢谢。"
    spans = DETECTOR.find(text)
    assert [text[s.start : s.end] for s in spans] == ["wang@example.cn", "13800138000", "4111111111111111"]
    assert text[spans[0].start - 1] == "是" and text[spans[-1].end] == "，"


def test_overlaps_resolved_by_type_priority() -> None:
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    for body in (f"650102198805{d:02d}123" for d in range(1, 29)):
        cn_id = body + "10X98765432"[sum(int(c) * w for c, w in zip(body, weights, strict=True)) % 11]
        assert found(f"证件{cn_id}。") == [("cn_id", cn_id)]  # never a Maestro card or a phone
    text = "clone https://deploy:s3cret@git.example.com/repo.git"
    assert found(text) == [("secret", "s3cret")]  # not the e-mail-like "s3cret@git.example.com"


def test_many_spans_and_pathological_inputs_stay_fast_enough() -> None:
    many = "a@b.co " * 2000
    assert len(DETECTOR.find(many)) == 2000
    assert DETECTOR.find("1" * 100_000) == []
    assert len(DETECTOR.find("-----BEGIN RSA PRIVATE KEY-----\n" * 200)) == 200


def test_url_glued_to_chinese_does_not_hide_later_pii() -> None:
    text = "详见http://example.com/a/b电话13800138000"
    assert found(text) == [("phone", "13800138000")]


def test_phone_word_right_before_accepts_numbers_libphonenumber_cannot_validate() -> None:
    """Presidio-style context: a local number after "Phone:" is a phone; the same digits in prose are not."""
    from filters.pii.phones import find_phones

    assert [s.kind for s in find_phones("Personal Info:\nPhone:\n467 3395\n")] == ["phone"]
    assert [s.kind for s in find_phones("Desk: 0490 39 07 81 | 930.167.3943 fax")] == ["phone", "phone"]
    assert find_phones("The code 467 3395 was printed on the box.") == []
    assert find_phones("Phone: 2023-07-21") == []
