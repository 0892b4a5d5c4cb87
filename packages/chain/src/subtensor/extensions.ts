/**
 * Transaction extensions subtensor adds beyond the standard system ones (reference §3.7). polkadot-js does not know
 * them and would warn and treat them as no-effect; declaring them makes the signing payload explicit:
 * - `ChargeTransactionPaymentWrapper` (newer runtimes) carries the tip like ChargeTransactionPayment;
 * - the others carry no data, neither in the extrinsic nor in the signed payload.
 * The finney metadata of 2026-07-04 names the payment extension `ChargeTransactionPayment` (known to polkadot-js).
 */
export const SUBTENSOR_SIGNED_EXTENSIONS = {
  ChargeTransactionPaymentWrapper: { extrinsic: { tip: "Compact<Balance>" }, payload: {} },
  SudoTransactionExtension: { extrinsic: {}, payload: {} },
  CheckShieldedTxValidity: { extrinsic: {}, payload: {} },
  SubtensorTransactionExtension: { extrinsic: {}, payload: {} },
  DrandPriority: { extrinsic: {}, payload: {} },
} as const;

/** Public endpoints (reference §3.1). */
export const SUBTENSOR_ENDPOINTS: Record<string, string> = {
  finney: "wss://entrypoint-finney.opentensor.ai:443",
  test: "wss://test.finney.opentensor.ai:443",
};

/** Genesis hash of finney, to refuse a wrong network when `finney` was asked for. */
export const FINNEY_GENESIS = "0x2f0555cc76fc2840a25a6ea3b9637146806f1f44b090c175ffde2a7e5ab36c03";
