"""SV1 JSON lines: splitting with the 16 KiB cap, parsing, JSON-RPC errors, encoding (spec §7.1)."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nutx_cli.sv1.protocol import (
    ERR_INVALID_PARAMS,
    ERR_INVALID_REQUEST,
    ERR_PARSE,
    MAX_LINE,
    LineSplitter,
    LineTooLong,
    Notification,
    Request,
    Response,
    Sv1Error,
    encode,
    error_response,
    parse_line,
    result_response,
)


def test_splitter_handles_partial_lines_crlf_and_blank_lines() -> None:
    s = LineSplitter()
    assert s.feed(b'{"id":1,') == []
    assert s.feed(b'"method":"x"}\r\n\n  \n{"id"') == [b'{"id":1,"method":"x"}']
    assert s.feed(b":2}\n") == [b'{"id":2}']


def test_line_at_the_cap_passes_and_one_byte_more_is_refused() -> None:
    assert LineSplitter().feed(b"x" * MAX_LINE + b"\n") == [b"x" * MAX_LINE]
    with pytest.raises(LineTooLong):
        LineSplitter().feed(b"x" * (MAX_LINE + 1) + b"\n")


def test_a_megabyte_line_is_refused_before_its_newline_arrives() -> None:
    s = LineSplitter()
    with pytest.raises(LineTooLong) as info:
        for _ in range(64):
            s.feed(b"a" * 16384)
    assert info.value.response().error == [ERR_INVALID_REQUEST, info.value.message, None]


def test_parse_request_with_id_zero_and_jsonrpc_field() -> None:
    msg = parse_line(b'{"jsonrpc":"2.0","id":0,"method":"mining.subscribe","params":["cpuminer/2.5"]}')
    assert msg == Request(0, "mining.subscribe", ["cpuminer/2.5"])
    assert parse_line(b'{"id":"a","method":"mining.extranonce.subscribe"}') == Request(
        "a", "mining.extranonce.subscribe", []
    )


def test_parse_notification_and_response() -> None:
    assert parse_line(b'{"id":null,"method":"mining.notify","params":[1]}') == Notification(
        "mining.notify", [1]
    )
    assert parse_line(b'{"id":3,"result":"cpuminer/2.5","error":null}') == Response(3, "cpuminer/2.5", None)


@pytest.mark.parametrize(
    ("line", "code"),
    [
        (b"{not json", ERR_PARSE),
        (b"\xff\xfe", ERR_PARSE),
        (b"[1,2]", ERR_INVALID_REQUEST),
        (b'{"id":true,"method":"x"}', ERR_INVALID_REQUEST),
        (b'{"id":1,"method":5}', ERR_INVALID_REQUEST),
        (b'{"id":1}', ERR_INVALID_REQUEST),
        (b'{"id":1,"method":"mining.submit","params":{"a":1}}', ERR_INVALID_PARAMS),
    ],
)
def test_malformed_lines_raise_the_json_rpc_error_to_answer(line: bytes, code: int) -> None:
    with pytest.raises(Sv1Error) as info:
        parse_line(line)
    assert info.value.code == code


def test_bad_params_error_keeps_the_request_id() -> None:
    with pytest.raises(Sv1Error) as info:
        parse_line(b'{"id":9,"method":"mining.submit","params":"x"}')
    assert info.value.response().id == 9


def test_encode_shapes_miners_parse() -> None:
    assert json.loads(encode(result_response(0, True))) == {"id": 0, "result": True, "error": None}
    assert json.loads(encode(error_response(4, 21, "job not found"))) == {
        "id": 4,
        "result": None,
        "error": [21, "job not found", None],
    }
    line = encode(Notification("mining.set_difficulty", [0.001]))
    assert line.endswith(b"\n") and json.loads(line) == {
        "id": None,
        "method": "mining.set_difficulty",
        "params": [0.001],
    }


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4),
    max_leaves=10,
)


@given(
    st.one_of(st.integers(min_value=0), st.text(max_size=10)),
    st.text(min_size=1, max_size=30),
    st.lists(json_values, max_size=5),
)
def test_request_round_trips_through_a_line(request_id: int | str, method: str, params: list[object]) -> None:
    request = Request(request_id, method, params)
    line = encode(request)
    assert line.count(b"\n") == 1
    (got,) = LineSplitter().feed(line)
    assert parse_line(got) == request


@given(st.binary(max_size=200))
def test_arbitrary_bytes_never_raise_anything_but_sv1_errors(data: bytes) -> None:
    for line in LineSplitter().feed(data + b"\n"):
        try:
            parse_line(line)
        except Sv1Error:
            pass
