import json
import logging

from intelgraph.logging import JsonFormatter


def test_json_formatter_writes_one_object_with_extras():
    record = logging.LogRecord("ig.test", logging.WARNING, __file__, 1, "hello %s", ("world",), None)
    record.tenant = "alpha"
    line = JsonFormatter().format(record)
    entry = json.loads(line)
    assert entry["msg"] == "hello world"
    assert entry["level"] == "warning"
    assert entry["tenant"] == "alpha"
    assert "\n" not in line
