import type { FastifyError, FastifyReply, FastifyRequest } from "fastify";
import { hasZodFastifySchemaValidationErrors, isResponseSerializationError } from "fastify-type-provider-zod";
import { isCmeshError } from "@computemesh/core";
import { ApiError } from "./errors.ts";

export interface ErrorPayload {
  error: { code: string; message: string; hint?: string; field?: string; details?: Record<string, unknown> };
}

const CONTEXT_NAMES: Record<string, string> = {
  body: "body",
  querystring: "query",
  params: "path",
  headers: "header",
};

/** `/inputs/0/path` in the body → `inputs[0].path`. */
function fieldName(context: string | undefined, instancePath: string, extra?: string): string {
  const parts = instancePath.split("/").filter((p) => p.length > 0);
  if (extra) parts.push(extra);
  const path = parts.map((p, i) => (/^\d+$/.test(p) ? `[${p}]` : i === 0 ? p : `.${p}`)).join("");
  const where = CONTEXT_NAMES[context ?? "body"] ?? context ?? "body";
  return path ? path : where;
}

/**
 * Turns every failure into `{ error: { code, message, hint?, field? } }` with a 4xx that names the field or
 * token at fault, or a 5xx that says what broke (without leaking internals).
 */
export function toErrorResponse(err: unknown, req: FastifyRequest): { status: number; body: ErrorPayload } {
  if (hasZodFastifySchemaValidationErrors(err)) {
    const context = (err as unknown as { validationContext?: string }).validationContext;
    const issues = err.validation.map((v) => {
      const params = v.params as { keys?: string[]; expected?: string; received?: string };
      if (v.keyword === "unrecognized_keys" && params.keys?.length) {
        return {
          field: fieldName(context, v.instancePath, params.keys[0]),
          message: `unknown field "${params.keys.join('", "')}"`,
        };
      }
      return { field: fieldName(context, v.instancePath), message: v.message ?? "invalid" };
    });
    const first = issues[0];
    const where = CONTEXT_NAMES[context ?? "body"] ?? "request";
    return {
      status: 400,
      body: {
        error: {
          code: "VALIDATION_FAILED",
          message: issues.map((i) => `${where} ${i.field}: ${i.message}`).join("; "),
          field: first.field,
          details: { issues },
        },
      },
    };
  }
  if (err instanceof ApiError) {
    return {
      status: err.status,
      body: {
        error: {
          code: err.code,
          message: err.message,
          hint: err.hint,
          field: err.field,
          details: err.details,
        },
      },
    };
  }
  if (isCmeshError(err)) {
    return { status: 500, body: { error: { code: err.code, message: err.message, hint: err.hint } } };
  }
  const fe = err as FastifyError;
  if (fe && typeof fe.code === "string" && fe.code.startsWith("FST_")) {
    switch (fe.code) {
      case "FST_ERR_CTP_INVALID_JSON_BODY":
      case "FST_ERR_CTP_EMPTY_JSON_BODY":
        return {
          status: 400,
          body: {
            error: {
              code: "MALFORMED_JSON",
              message: `body is not valid JSON: ${fe.message}`,
              field: "body",
            },
          },
        };
      case "FST_ERR_CTP_BODY_TOO_LARGE":
        return {
          status: 413,
          body: {
            error: {
              code: "BODY_TOO_LARGE",
              message: "request body is larger than this endpoint accepts",
              field: "body",
            },
          },
        };
      case "FST_ERR_CTP_INVALID_MEDIA_TYPE":
        return {
          status: 415,
          body: {
            error: {
              code: "UNSUPPORTED_MEDIA_TYPE",
              message: `send application/json, not ${req.headers["content-type"]}`,
              field: "content-type",
            },
          },
        };
    }
  }
  if (fe && typeof fe.statusCode === "number" && fe.statusCode >= 400 && fe.statusCode < 500) {
    return {
      status: fe.statusCode,
      body: { error: { code: fe.code ?? "BAD_REQUEST", message: fe.message } },
    };
  }
  if (err && typeof err === "object" && isResponseSerializationError(err as never)) {
    return {
      status: 500,
      body: {
        error: {
          code: "RESPONSE_INVALID",
          message: "the server built a response that breaks its own schema",
        },
      },
    };
  }
  return { status: 500, body: { error: { code: "INTERNAL", message: "internal error; see the API's log" } } };
}

export function sendError(reply: FastifyReply, err: unknown): FastifyReply {
  const { status, body } = toErrorResponse(err, reply.request);
  if (status >= 500) reply.request.log.error({ err }, "request failed");
  return reply.code(status).send(body);
}
