/**
 * The OPC UA server end to end, with real node-opcua clients over loopback against the agent
 * run from the sources. One agent serves every step, because node-opcua is slow to start.
 */
import test, { type ExecutionContext } from "ava";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import {
  AttributeIds,
  DataType,
  MessageSecurityMode,
  SecurityPolicy,
  StatusCodes,
  TimestampsToReturn,
  VariantArrayType,
  constructEventFilter,
  type ClientSession,
  type DataValue,
  type Variant,
} from "node-opcua";
import { cliCommand } from "../helpers/agent-process.js";
import { connectOpcua, type ClientOptions } from "../helpers/opcua-client.js";
import {
  opcuaCli,
  passwordUser,
  percentUnitId,
  readValue,
  setUpOpcua,
  spo2,
  waitUntil,
  type Setup,
} from "./opcua-scenario.js";
import { keepWriting, masimoLine, prefix } from "./scenario.js";

test("OPC UA reads, refusals, trust and lost link", async (t) => {
  const setup = await setUpOpcua(t, cliCommand("source"));
  const { world, endpointUrl, dir } = setup;
  let line = masimoLine("097", "072");
  t.teardown(keepWriting(world.masimoDevice, () => line));
  const trustedOptions: ClientOptions = {
    endpointUrl,
    dir,
    application: setup.trusted,
    user: setup.user,
  };

  const connected = await connectOpcua(trustedOptions);
  t.teardown(() => connected.close().catch(() => undefined));
  const { session } = connected;
  const before = Date.now();
  await waitUntil(
    async () => (await readValue(session, spo2)).value.value === 97,
    20_000,
    "SpO2 97",
  );
  const value = await readValue(session, spo2);
  t.is(value.statusCode, StatusCodes.Good);
  t.is(value.value.dataType, DataType.Double);
  t.true(
    (value.sourceTimestamp?.getTime() ?? 0) >= before - 5_000,
    "source time is the receive time",
  );
  t.true(value.serverTimestamp instanceof Date);

  const units = await readValue(session, `${spo2}.EngineeringUnits`);
  const eu = units.value.value as { unitId: number; displayName: { text: string } };
  t.is(eu.unitId, percentUnitId);
  t.is(eu.displayName.text, "%");
  t.is((await readValue(session, `${spo2}.MdcCode`)).value.value, 150456);
  t.is((await readValue(session, "ns=1;s=bed12-spo2.SerialNumber")).value.value, "0000012345");
  t.is(
    (await readValue(session, "ns=1;s=bed12-spo2.Profile")).value.value,
    "masimo-radical7-ascii1@1.0.0",
  );
  t.is((await readValue(session, "ns=1;s=bed12-spo2.LinkState")).value.value, "connected");
  await waitUntil(
    async () =>
      typeof (await readValue(session, "ns=1;s=bed12-vent.MDC_PULS_OXIM_SAT_O2")).value.value ===
      "number",
    20_000,
    "a MEDIBUS SpO2",
  );

  const write = await session.write({
    nodeId: spo2,
    attributeId: AttributeIds.Value,
    value: { value: { dataType: DataType.Double, value: 50 } },
  });
  t.not(write, StatusCodes.Good, "variables are read-only");

  // A subscription reports the change, and later the bad status of a lost link.
  const subscription = await session.createSubscription2({
    requestedPublishingInterval: 100,
    publishingEnabled: true,
    requestedMaxKeepAliveCount: 20,
    requestedLifetimeCount: 600,
  });
  const changes: DataValue[] = [];
  const item = await subscription.monitor(
    { nodeId: spo2, attributeId: AttributeIds.Value },
    { samplingInterval: 0, queueSize: 100, discardOldest: true },
    TimestampsToReturn.Both,
  );
  item.on("changed", (dataValue: DataValue) => changes.push(dataValue));
  // Events on the device object, and on the Server object, which the device notifies.
  const eventsOn = async (nodeId: string) => {
    const received: Variant[][] = [];
    const eventItem = await subscription.monitor(
      { nodeId, attributeId: AttributeIds.EventNotifier },
      { queueSize: 100, filter: constructEventFilter(["SourceName", "Message", "Severity"]) },
      TimestampsToReturn.Both,
    );
    eventItem.on("changed", (fields: Variant[]) => received.push(fields));
    return received;
  };
  const events = await eventsOn("ns=1;s=bed12-spo2");
  const serverEvents = await eventsOn("i=2253");
  line = masimoLine("098", "072");
  await waitUntil(
    () => changes.some((change) => change.value.value === 98),
    10_000,
    "SpO2 98 notification",
  );

  // Another policy with the same trust.
  const pss = await connectOpcua({
    ...trustedOptions,
    securityPolicy: SecurityPolicy.Aes256_Sha256_RsaPss,
  });
  t.is((await readValue(pss.session, spo2)).statusCode, StatusCodes.Good);
  await pss.close();

  // The only None endpoint serves GetEndpoints; a session over None is cut off by the server.
  await t.throwsAsync(connectOpcua({ ...trustedOptions, securityMode: MessageSecurityMode.None }), {
    message: /rejected by server|None/,
  });
  // Sign without encryption is offered only when opcua.securityModes lists it.
  await t.throwsAsync(connectOpcua({ ...trustedOptions, securityMode: MessageSecurityMode.Sign }));
  // No endpoint offers an anonymous token policy, so the client cannot even ask for one.
  await t.throwsAsync(connectOpcua({ ...trustedOptions, user: "anonymous" }), {
    message: /anonymous/i,
  });
  await t.throwsAsync(connectOpcua({ ...trustedOptions, user: setup.unknownUser }), {
    message: /BadIdentityTokenRejected/,
  });
  const withPassword = await connectOpcua({ ...trustedOptions, user: passwordUser });
  t.is((await readValue(withPassword.session, spo2)).statusCode, StatusCodes.Good);
  await withPassword.close();
  await t.throwsAsync(
    connectOpcua({ ...trustedOptions, user: { ...passwordUser, password: "a wrong password" } }),
    { message: /BadUserAccessDenied/ },
  );
  const rejectedUsers = join(world.dir, "data", "opcua", "users", "rejected");
  t.true(
    readdirSync(rejectedUsers).some((name) => name.startsWith("stranger")),
    "the unknown user's certificate is kept for review",
  );
  await expectRejectedThenTrusted(t, setup, { ...trustedOptions, application: setup.untrusted });
  // A CA in issuers/ lets its client's chain be checked; the client itself still needs trust.
  await expectRejectedThenTrusted(
    t,
    setup,
    { ...trustedOptions, application: setup.caIssued },
    "historian",
  );
  t.true(refusalLogged(setup, "application", /CN=visitor/), "the refused application is logged");
  t.true(refusalLogged(setup, "user", /CN=stranger/), "the refused user is logged");
  t.true(
    refusalLogged(setup, "application", /CN=historian/, "BadCertificateUntrusted"),
    "the CA-issued client's chain is complete, only its trust is missing",
  );
  t.false(setup.agentOutput().includes("NODE-OPCUA-W26"), "no misleading SAN warning");
  for (const store of ["applications", "users"]) {
    const unusedKey = join(world.dir, "data", "opcua", store, "own", "private", "private_key.pem");
    t.false(existsSync(unusedKey), `no unused key in ${store}`);
  }
  await expectDiagnosticsHiddenAndReadOnly(t, session);

  const [health] = await world.subscriber.waitFor(
    (m) =>
      m.topic === `${prefix}/health` &&
      (m.payload as { certificates: object }).certificates !== undefined,
    10_000,
  );
  const certificates = (health?.payload as { certificates: Record<string, unknown> }).certificates;
  t.true((certificates.opcuaServerCertDaysLeft as number) >= 364, JSON.stringify(certificates));

  // The device's link goes away: its values turn bad and the technical alarm arrives as an event.
  await world.masimoPty.stop();
  await waitUntil(
    () => changes.some((change) => change.statusCode === StatusCodes.BadNoCommunication),
    20_000,
    "BadNoCommunication",
  );
  t.is((await readValue(session, spo2)).statusCode, StatusCodes.BadNoCommunication);
  await waitUntil(
    () => events.some((fields) => String(fields[1]?.value?.text).startsWith("link-lost active")),
    10_000,
    "the link-lost event",
  );
  const lost = events.find((fields) =>
    String(fields[1]?.value?.text).startsWith("link-lost active"),
  );
  t.is(lost?.[0]?.value, "bed12-spo2");
  t.is(lost?.[2]?.value, 700, "technical alarm severity");
  await waitUntil(
    () => serverEvents.some((fields) => String(fields[1]?.value?.text).startsWith("link-lost")),
    10_000,
    "the link-lost event on the Server object",
  );
  await subscription.terminate();
});

/** Returns whether the agent logged a JSON warn line for a refused certificate of `kind`. */
function refusalLogged(
  setup: Setup,
  kind: "application" | "user",
  subject: RegExp,
  reason?: string,
): boolean {
  return setup
    .agentOutput()
    .split("\n")
    .flatMap((line) => {
      try {
        return [
          JSON.parse(line) as { level?: string; msg?: string; subject?: string; reason?: string },
        ];
      } catch {
        return []; // node-opcua's own text lines
      }
    })
    .some(
      (record) =>
        record.level === "warn" &&
        record.msg === `opcua ${kind} certificate refused` &&
        subject.test(record.subject ?? "") &&
        (reason === undefined || record.reason === reason),
    );
}

/**
 * No session sees the list of sessions, and no diagnostics variable is writable. node-opcua's
 * per-session SubscriptionDiagnosticsArray was writable, and an empty array written there made
 * the next DeleteSubscriptions end the agent with an uncaught exception.
 */
async function expectDiagnosticsHiddenAndReadOnly(t: ExecutionContext, session: ClientSession) {
  const subscription = await session.createSubscription2({
    requestedPublishingInterval: 100,
    publishingEnabled: true,
    requestedMaxKeepAliveCount: 20,
    requestedLifetimeCount: 600,
  });
  const summary = await session.browse("i=3706"); // Server.ServerDiagnostics.SessionsDiagnosticsSummary
  t.is(summary.statusCode, StatusCodes.BadNodeIdUnknown, "the sessions list is hidden");
  t.is((await readValue(session, "i=3707")).statusCode, StatusCodes.BadNodeIdUnknown);
  const sessionId = session.sessionId.toString();
  t.is((await readValue(session, sessionId)).statusCode, StatusCodes.BadNodeIdUnknown);
  const emptyArray = {
    value: { dataType: DataType.ExtensionObject, arrayType: VariantArrayType.Array, value: [] },
  };
  // Server.ServerDiagnostics.ServerDiagnosticsSummary and its EnabledFlag.
  for (const [nodeId, value] of [
    ["i=2275", emptyArray],
    ["i=2294", { value: { dataType: DataType.Boolean, value: false } }],
  ] as const) {
    const status = await session.write({ nodeId, attributeId: AttributeIds.Value, value });
    t.true(
      status === StatusCodes.BadUserAccessDenied || status === StatusCodes.BadNotWritable,
      `write to ${nodeId}: ${status.toString()}`,
    );
  }
  await subscription.terminate();
  t.is((await readValue(session, spo2)).statusCode, StatusCodes.Good, "the agent still serves");
}

/** An unknown application is refused and kept in rejected/ until `opcua trust` names it. */
async function expectRejectedThenTrusted(
  t: ExecutionContext,
  setup: Setup,
  options: ClientOptions,
  name = "visitor",
) {
  await t.throwsAsync(connectOpcua(options), { message: /BadSecurityChecksFailed|Bad/ });
  const rejected = join(setup.world.dir, "data", "opcua", "applications", "rejected");
  await waitUntil(
    () => existsSync(rejected) && readdirSync(rejected).some((file) => file.startsWith(name)),
    5_000,
    `the rejected file of ${name}`,
  );
  const listed = await opcuaCli(t, setup.command, setup.world, ["list"]);
  const entry = listed
    .split("\n")
    .find((row) => row.startsWith("rejected") && row.includes(`CN=${name}`));
  const thumbprint = entry?.split(/\s+/)[2] ?? "";
  t.regex(thumbprint, /^[0-9a-f]{40}$/, listed);
  await opcuaCli(t, setup.command, setup.world, ["trust", thumbprint]);
  let connected: Awaited<ReturnType<typeof connectOpcua>> | undefined;
  await waitUntil(
    async () => {
      connected = await connectOpcua(options).catch((error: unknown) => {
        t.log(`not yet: ${String(error)}`);
        return undefined;
      });
      return connected !== undefined;
    },
    20_000,
    "the newly trusted client to connect",
  );
  t.is(
    (await readValue((connected as { session: ClientSession }).session, spo2)).statusCode,
    StatusCodes.Good,
  );
  await connected?.close();
  // Withdrawn trust also takes effect without a restart.
  await opcuaCli(t, setup.command, setup.world, ["reject", thumbprint]);
  await waitUntil(
    async () => {
      const again = await connectOpcua(options).catch(() => undefined);
      await again?.close();
      return again === undefined;
    },
    20_000,
    "the withdrawn client to be refused",
  );
}
