import test from "ava";
import { redactUrl } from "../../src/config/redact-url.js";

test("redactUrl masks user and password", (t) => {
  t.is(
    redactUrl("mqtts://gw5:S3cretPW@broker.example.org:8883"),
    "mqtts://***@broker.example.org:8883",
  );
  t.is(redactUrl("mqtts://gw5@broker.example.org:8883"), "mqtts://***@broker.example.org:8883");
  t.is(redactUrl("mqtts://broker.example.org:8883"), "mqtts://broker.example.org:8883");
});

test("redactUrl masks text that is not a URL", (t) => {
  t.is(redactUrl('"mqtts://gw5:S3cretPW@broker:99999"'), '"mqtts://***@broker:99999"');
  t.is(redactUrl("no url here"), "no url here");
});
