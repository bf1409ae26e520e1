/**
 * Profile schema of the HL7/MLLP family: devices, or device gateways behind a serial device
 * server, that send HL7 v2 ORU^R01 messages over MLLP on TCP. The gateway connects to the
 * device server as a TCP client (the `tcp` link), the sender pushes messages and the gateway
 * acknowledges each one. The `serial` settings describe the device server's serial port, for
 * the technician who configures it; the gateway does not use them on a TCP link.
 */
import { z } from "zod";
import { commonProfileFields } from "../../profiles/common.js";

/** An MDC code such as 150456, or `code^SYSTEM` for an observation coded another way. */
const deviceCodePattern = /^(\d+|[^^]+\^[^^]+)$/;

export const hl7MllpProfileSchema = z
  .object({
    ...commonProfileFields,
    family: z.literal("hl7-mllp"),
  })
  .strict()
  .superRefine((profile, context) => {
    for (const code of Object.keys(profile.measurements)) {
      if (deviceCodePattern.test(code)) continue;
      context.addIssue({
        code: "custom",
        path: ["measurements", code],
        message:
          `key "${code}" must be the MDC code of OBX-3, such as 150456, or code^SYSTEM for ` +
          `another coding system, such as 8867-4^LN, because the decoder matches OBX-3 that way`,
      });
    }
  });

export type Hl7MllpProfile = z.infer<typeof hl7MllpProfileSchema>;
