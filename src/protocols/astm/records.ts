/**
 * Decodes ASTM E1394-97 / CLSI LIS02-A2 records into device records. The header (H) sets the
 * delimiters for the rest of the message: `H|\^&` means field `|`, repeat `\`, component `^`
 * and escape `&`. Field n of a record is index n - 1 after splitting on the field delimiter.
 *
 * - H: delimiters, and the sender name (H.5) as identity. Its components are read as
 *   name^software version^serial number, which is how vendors commonly fill it; LIS02-A2 does
 *   not fix them.
 * - R: one value: universal test id (R.3, its manufacturer's code component), value (R.4),
 *   unit (R.5), result status (R.9) and completion time (R.13, else the header's H.14).
 * - P (patient), O (order, whose specimen id is tied to a patient), C, M, S, Q and L carry no
 *   device measurement and are not decoded further. The gateway publishes device
 *   measurements only, so no name, identifier or birth date of a P record ever leaves here.
 */
import { GatewayError } from "../../errors.js";
import type { DeviceRecord } from "../types.js";

interface Delimiters {
  field: string;
  repeat: string;
  component: string;
  escape: string;
}

const defaultDelimiters: Delimiters = { field: "|", repeat: "\\", component: "^", escape: "&" };

/** Record types LIS02-A2 defines; any other type is reported and skipped. */
const knownTypes = new Set(["H", "P", "O", "R", "C", "Q", "M", "S", "L"]);

/**
 * Result statuses (R.9) with no value: X (the test cannot be done) and I (the result is still
 * pending in the instrument). Their R.4 is published as absent, whatever it holds.
 */
const noValueStatuses = new Set(["X", "I"]);

/** Maximum characters of a record quoted in an error message. */
const maxQuotedChars = 60;

export type RecordResult =
  { ok: true; records: DeviceRecord[] } | { ok: false; error: GatewayError };

export class AstmRecordDecoder {
  private delimiters = defaultDelimiters;
  private headerTime: string | undefined;

  /** Forgets the header of the previous message, at the start of a transfer. */
  reset(): void {
    this.delimiters = defaultDelimiters;
    this.headerTime = undefined;
  }

  decode(record: string): RecordResult {
    const type = record.charAt(0).toUpperCase();
    if (!knownTypes.has(type)) {
      return invalid(
        `ASTM record type "${record.charAt(0)}" is not one of H P O R C Q M S L`,
        record,
      );
    }
    switch (type) {
      case "H":
        return this.decodeHeader(record);
      case "R":
        return this.decodeResult(record);
      default:
        return { ok: true, records: [] };
    }
  }

  private decodeHeader(record: string): RecordResult {
    if (record.length < 5) {
      return invalid("ASTM header must start with H and four delimiter characters", record);
    }
    const [field, repeat, component, escape] = [...record.slice(1, 5)] as [
      string,
      string,
      string,
      string,
    ];
    if (new Set([field, repeat, component, escape]).size !== 4) {
      return invalid("ASTM header delimiters must be four different characters", record);
    }
    this.delimiters = { field, repeat, component, escape };
    // The delimiter definition is field 2, so it is cut off before splitting.
    const fields = ["H", "", ...record.slice(5).split(field).slice(1)];
    this.headerTime = nonEmpty(fields[13]);
    const sender = this.components(fields[4] ?? "");
    const identity: DeviceRecord = { kind: "identity" };
    const [model, firmware, serialNumber] = sender;
    if (nonEmpty(model) !== undefined) identity.model = model;
    if (nonEmpty(firmware) !== undefined) identity.firmware = firmware;
    if (nonEmpty(serialNumber) !== undefined) identity.serialNumber = serialNumber;
    const hasIdentity = Object.keys(identity).length > 1;
    return { ok: true, records: hasIdentity ? [identity] : [] };
  }

  private decodeResult(record: string): RecordResult {
    const fields = record.split(this.delimiters.field);
    const testId = this.testCode(fields[2] ?? "");
    if (testId === undefined) {
      return invalid("ASTM result record has no universal test id in field R.3", record);
    }
    const status = (fields[8] ?? "").trim().toUpperCase();
    const value = noValueStatuses.has(status) ? "" : this.unescape(this.firstComponent(fields[3]));
    const unit = this.unescape(fields[4] ?? "").trim();
    const deviceTime = nonEmpty(fields[12]) ?? this.headerTime;
    const numerics: DeviceRecord = {
      kind: "numerics",
      values: [{ deviceCode: testId, text: value, unit }],
      snapshot: false,
    };
    if (deviceTime !== undefined) numerics.deviceTime = deviceTime;
    return { ok: true, records: [numerics] };
  }

  /**
   * Returns the test code of a universal test id `id^name^type^manufacturer's code`: the
   * manufacturer's code when present (POC analyzers send `^^^pH`), else the first component.
   */
  private testCode(field: string): string | undefined {
    const parts = this.components(field).map((part) => part.trim());
    return nonEmpty(parts.slice(3).find((part) => part !== "")) ?? nonEmpty(parts[0]);
  }

  private components(field: string): string[] {
    const firstRepeat = field.split(this.delimiters.repeat)[0] ?? "";
    return firstRepeat.split(this.delimiters.component).map((part) => this.unescape(part));
  }

  private firstComponent(field: string | undefined): string {
    return (
      (field ?? "").split(this.delimiters.repeat)[0]?.split(this.delimiters.component)[0] ?? ""
    );
  }

  /** Replaces the LIS02-A2 escape sequences &F& &S& &R& &E& by the delimiters they stand for. */
  private unescape(text: string): string {
    const { field, repeat, component, escape } = this.delimiters;
    if (!text.includes(escape)) return text;
    const sequences: Record<string, string> = { F: field, S: component, R: repeat, E: escape };
    return text.replace(
      new RegExp(`${regexEscape(escape)}([FSRE])${regexEscape(escape)}`, "g"),
      (_match, letter: string) => sequences[letter] ?? "",
    );
  }
}

function nonEmpty(text: string | undefined): string | undefined {
  const trimmed = text?.trim();
  return trimmed === undefined || trimmed === "" ? undefined : trimmed;
}

function regexEscape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

function invalid(rule: string, record: string): RecordResult {
  const shown = record.length > maxQuotedChars ? `${record.slice(0, maxQuotedChars)}…` : record;
  const message = `${rule} (got ${JSON.stringify(shown)}); the record was skipped`;
  return { ok: false, error: new GatewayError("DECODE_INVALID", message) };
}
