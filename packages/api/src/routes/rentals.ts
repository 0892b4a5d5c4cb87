import { z } from "zod";
import { type ApiContext, type App, bearer, requireAccount } from "../context.ts";
import { ApiError } from "../errors.ts";
import { parseQuery } from "../query/parse.ts";
import { ErrorBody, IdParams, ReleaseBody, RentBody, Rental, RentalListQuery, SshInfo } from "../schemas.ts";

const errors = {
  400: ErrorBody,
  401: ErrorBody,
  402: ErrorBody,
  404: ErrorBody,
  409: ErrorBody,
  422: ErrorBody,
  502: ErrorBody,
  503: ErrorBody,
};

export function rentalRoutes(app: App, ctx: ApiContext): void {
  app.post(
    "/v1/rentals",
    {
      config: { auth: "account" },
      schema: {
        tags: ["rentals"],
        summary: "Rent a named machine or the best available match for a query",
        description:
          "Returns once SSH is ready; metering runs from then until release. Send an `Idempotency-Key` header to retry safely.",
        security: bearer,
        body: RentBody,
        response: { 201: Rental, ...errors },
      },
    },
    async (req, reply) => {
      const acc = requireAccount(req);
      const body = req.body;
      const rental = await ctx.rentals.rent(acc.id, {
        minerHotkey: body.minerHotkey,
        query: body.query !== undefined ? parseQuery(body.query) : undefined,
        sshPublicKey: body.sshPublicKey,
        durationSec: body.durationSec,
        image: body.image,
      });
      return reply.code(201).send(rental);
    },
  );

  app.get(
    "/v1/rentals",
    {
      config: { auth: "account" },
      schema: {
        tags: ["rentals"],
        summary: "Your rentals with their running cost",
        security: bearer,
        querystring: RentalListQuery,
        response: { 200: z.object({ rentals: z.array(Rental) }), ...errors },
      },
    },
    async (req) => ({
      rentals: await ctx.rentals.list(requireAccount(req).id, { live: req.query.state === "live" }),
    }),
  );

  app.get(
    "/v1/rentals/:id",
    {
      config: { auth: "account" },
      schema: {
        tags: ["rentals"],
        summary: "One rental",
        security: bearer,
        params: IdParams,
        response: { 200: Rental, ...errors },
      },
    },
    async (req) => ctx.rentals.get(requireAccount(req).id, req.params.id),
  );

  app.get(
    "/v1/rentals/:id/ssh",
    {
      config: { auth: "account" },
      schema: {
        tags: ["rentals"],
        summary: "The ssh command of an active rental",
        security: bearer,
        params: IdParams,
        response: { 200: SshInfo, ...errors },
      },
    },
    async (req) => {
      const r = await ctx.rentals.get(requireAccount(req).id, req.params.id);
      if (r.state !== "active" || !r.ssh || !r.sshCommand) {
        throw new ApiError(
          409,
          "RENTAL_NOT_ACTIVE",
          `rental ${r.id} is ${r.state}; there is nothing to ssh into`,
        );
      }
      return { rentalId: r.id, command: r.sshCommand, ...r.ssh };
    },
  );

  app.post(
    "/v1/rentals/:id/release",
    {
      config: { auth: "account" },
      schema: {
        tags: ["rentals"],
        summary: "Release a rental; metering stops now",
        security: bearer,
        params: IdParams,
        body: ReleaseBody,
        response: { 200: Rental, ...errors },
      },
    },
    async (req) =>
      ctx.rentals.release(requireAccount(req).id, req.params.id, req.body?.reason ?? "released by renter"),
  );
}
