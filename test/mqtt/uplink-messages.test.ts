import test from "ava";
import { withoutSystemCaAdvice } from "../../src/mqtt/tls.js";

test("system CA advice is removed", (t) => {
  const message =
    "self-signed certificate; if the root CA is installed locally, try running Node.js with --use-system-ca";
  t.is(withoutSystemCaAdvice(message), "self-signed certificate");
});

test("other TLS messages are kept", (t) => {
  t.is(withoutSystemCaAdvice("certificate has expired"), "certificate has expired");
});
