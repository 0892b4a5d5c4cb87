import { decodeAddress } from "@polkadot/util-crypto";
import type Database from "better-sqlite3";
import { chainError } from "../errors.ts";
import {
  DEFAULT_HYPERPARAMS,
  hyperparamsFromJson,
  hyperparamsToJson,
  partialHyperparamsSchema,
} from "../hyperparams.ts";
import type { AxonInfo, Metagraph, NeuronInfo, SubnetHyperparams } from "../types.ts";
import { maxUpscaleU16, weightsCommitHash } from "../weights.ts";
import { type SparseRow, yumaEpoch } from "../yuma/epoch.ts";
import { type Call, txHash, verifyTx } from "./tx.ts";

/** Alpha (rao) a local subnet emits per block, before the owner's cut. */
export const LOCAL_EMISSION_PER_BLOCK = 1_000_000_000n;
/** Subnet owner cut, as subtensor's SubnetOwnerCut (11796 / 65535 ≈ 18 %). */
export const OWNER_CUT_U16 = 11796n;
const MAX_UNREVEALED_COMMITS = 10;

export interface TxOutcome {
  block: number;
  hash: string;
  uid?: number;
  netuid?: number;
}

interface NeuronRow {
  netuid: number;
  uid: number;
  hotkey: string;
  registered_at: number;
  last_update: number;
  axon: string | null;
  axon_block: number;
  consensus: number;
  incentive: number;
  dividends: number;
  validator_trust: number;
  emission: string;
  validator_permit: number;
  active: number;
  weights: string;
  bonds: string;
}

interface SubnetRow {
  netuid: number;
  owner_coldkey: string;
  owner_hotkey: string;
  params: string;
  created_at: number;
  last_epoch_block: number;
  pending_emission: string;
}

function isAddress(a: string): boolean {
  try {
    decodeAddress(a);
    return true;
  } catch {
    return false;
  }
}

/** Dotted IPv4 or IPv6 text → validated string; rejects garbage. Loopback is allowed on a local chain. */
function checkIp(ip: string): void {
  const v4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(ip);
  if (v4) {
    if (v4.slice(1).some((o) => Number(o) > 255))
      throw chainError("InvalidIpAddress", `invalid IPv4 address ${ip}`);
    return;
  }
  if (/^[0-9a-fA-F:]+$/.test(ip) && ip.includes(":")) return;
  throw chainError("InvalidIpType", `not an IPv4/IPv6 address: ${ip}`);
}

/**
 * The local chain's state machine over SQLite: accounts, subnets, neurons, stake, weights, bonds, commits.
 * Every transaction and every block runs inside one SQLite transaction, so state on disk is always consistent.
 */
export class ChainState {
  constructor(
    readonly db: Database.Database,
    readonly chainId: string,
  ) {}

  block(): number {
    return Number(
      (this.db.prepare("SELECT value FROM meta WHERE key = 'block'").get() as { value: string }).value,
    );
  }

  balance(address: string): bigint {
    const row = this.db.prepare("SELECT balance FROM accounts WHERE address = ?").get(address) as
      | { balance: string }
      | undefined;
    return row ? BigInt(row.balance) : 0n;
  }

  nonce(address: string): number {
    const row = this.db.prepare("SELECT nonce FROM accounts WHERE address = ?").get(address) as
      | { nonce: number }
      | undefined;
    return row?.nonce ?? 0;
  }

  private setBalance(address: string, balance: bigint): void {
    this.db
      .prepare(
        "INSERT INTO accounts (address, balance) VALUES (?, ?) ON CONFLICT(address) DO UPDATE SET balance = excluded.balance",
      )
      .run(address, balance.toString());
  }

  faucet(address: string, rao: bigint): void {
    if (!isAddress(address)) throw chainError("BadTransaction", `not an SS58 address: ${address}`);
    if (rao <= 0n) throw chainError("AmountTooLow", "faucet amount must be > 0");
    this.db.transaction(() => this.setBalance(address, this.balance(address) + rao))();
  }

  subnet(netuid: number): SubnetRow {
    const row = this.db.prepare("SELECT * FROM subnets WHERE netuid = ?").get(netuid) as
      | SubnetRow
      | undefined;
    if (!row) throw chainError("SubNetworkDoesNotExist", `subnet ${netuid} does not exist`);
    return row;
  }

  netuids(): number[] {
    return (this.db.prepare("SELECT netuid FROM subnets ORDER BY netuid").all() as { netuid: number }[]).map(
      (r) => r.netuid,
    );
  }

  hyperparams(netuid: number): SubnetHyperparams {
    return hyperparamsFromJson(JSON.parse(this.subnet(netuid).params));
  }

  private neurons(netuid: number): NeuronRow[] {
    return this.db.prepare("SELECT * FROM neurons WHERE netuid = ? ORDER BY uid").all(netuid) as NeuronRow[];
  }

  private neuronByHotkey(netuid: number, hotkey: string): NeuronRow | undefined {
    return this.db.prepare("SELECT * FROM neurons WHERE netuid = ? AND hotkey = ?").get(netuid, hotkey) as
      | NeuronRow
      | undefined;
  }

  private hotkeyStake(netuid: number, hotkey: string): bigint {
    const rows = this.db
      .prepare("SELECT amount FROM stakes WHERE netuid = ? AND hotkey = ?")
      .all(netuid, hotkey) as {
      amount: string;
    }[];
    return rows.reduce((a, r) => a + BigInt(r.amount), 0n);
  }

  private addStakeRow(netuid: number, hotkey: string, coldkey: string, amount: bigint): void {
    if (amount === 0n) return;
    const row = this.db
      .prepare("SELECT amount FROM stakes WHERE netuid = ? AND hotkey = ? AND coldkey = ?")
      .get(netuid, hotkey, coldkey) as { amount: string } | undefined;
    const next = (row ? BigInt(row.amount) : 0n) + amount;
    this.db
      .prepare(
        "INSERT INTO stakes (netuid, hotkey, coldkey, amount) VALUES (?, ?, ?, ?) ON CONFLICT(netuid, hotkey, coldkey) DO UPDATE SET amount = excluded.amount",
      )
      .run(netuid, hotkey, coldkey, next.toString());
  }

  private owner(hotkey: string): string | undefined {
    return (
      this.db.prepare("SELECT coldkey FROM hotkey_owner WHERE hotkey = ?").get(hotkey) as
        | { coldkey: string }
        | undefined
    )?.coldkey;
  }

  metagraph(netuid: number, withWeights = false): Metagraph {
    this.subnet(netuid);
    const block = this.block();
    const rows = this.neurons(netuid);
    const neurons: NeuronInfo[] = rows.map((r) => ({
      uid: r.uid,
      hotkey: r.hotkey,
      coldkey: this.owner(r.hotkey) ?? "",
      stake: this.hotkeyStake(netuid, r.hotkey),
      rank: 0,
      trust: 0,
      consensus: r.consensus / 65535,
      incentive: r.incentive / 65535,
      dividends: r.dividends / 65535,
      validatorTrust: r.validator_trust / 65535,
      emission: BigInt(r.emission),
      validatorPermit: r.validator_permit === 1,
      axon: r.axon ? (JSON.parse(r.axon) as AxonInfo) : null,
      lastUpdate: r.last_update,
      registeredAt: r.registered_at,
      active: r.active === 1,
    }));
    const mg: Metagraph = { netuid, block, neurons };
    if (withWeights) {
      mg.weights = rows.map((r) => {
        const dense = new Array<number>(rows.length).fill(0);
        for (const [j, v] of JSON.parse(r.weights) as SparseRow) if (j < rows.length) dense[j] = v;
        return dense;
      });
    }
    return mg;
  }

  /** Verifies and applies one signed transaction. The nonce is consumed even when the call itself fails. */
  submit(raw: unknown): TxOutcome {
    const { tx, call } = verifyTx(raw, this.chainId);
    const hash = txHash(tx);
    let failure: unknown;
    const outcome = this.db.transaction((): TxOutcome => {
      const expected = this.nonce(tx.signer);
      if (tx.nonce !== expected) {
        throw chainError(
          "InvalidNonce",
          `nonce ${tx.nonce} for ${tx.signer}, expected ${expected} (replayed or out of order)`,
        );
      }
      this.db
        .prepare(
          "INSERT INTO accounts (address, nonce) VALUES (?, 1) ON CONFLICT(address) DO UPDATE SET nonce = accounts.nonce + 1",
        )
        .run(tx.signer);
      const block = this.block();
      const record = this.db.prepare(
        "INSERT INTO txs (hash, block, signer, call, ok, error) VALUES (?, ?, ?, ?, ?, ?)",
      );
      try {
        const extra = this.db.transaction(() => this.dispatch(tx.signer, call, block))();
        record.run(hash, block, tx.signer, call.call, 1, null);
        return { block, hash, ...extra };
      } catch (err) {
        record.run(hash, block, tx.signer, call.call, 0, (err as { code?: string }).code ?? String(err));
        failure = err;
        return { block, hash };
      }
    })();
    if (failure !== undefined) throw failure;
    return outcome;
  }

  private dispatch(signer: string, call: Call, block: number): { uid?: number; netuid?: number } {
    switch (call.call) {
      case "register_network":
        return { netuid: this.registerNetwork(signer, call.args.params, block) };
      case "burned_register":
        return { uid: this.burnedRegister(signer, call.args.netuid, call.args.hotkey, block) };
      case "serve_axon":
        this.serveAxon(signer, call.args, block);
        return {};
      case "add_stake":
        this.addStake(signer, call.args.netuid, call.args.hotkey, BigInt(call.args.amount));
        return {};
      case "set_weights":
        this.setWeights(
          signer,
          call.args.netuid,
          call.args.dests,
          call.args.weights,
          call.args.versionKey,
          block,
          false,
        );
        return {};
      case "commit_weights":
        this.commitWeights(signer, call.args.netuid, call.args.commitHash, block);
        return {};
      case "reveal_weights":
        this.revealWeights(signer, call.args, block);
        return {};
    }
  }

  private registerNetwork(owner: string, rawParams: Record<string, unknown>, block: number): number {
    const parsed = partialHyperparamsSchema.safeParse(rawParams);
    if (!parsed.success)
      throw chainError("InvalidHyperparams", `invalid subnet parameters: ${parsed.error.message}`);
    const params: SubnetHyperparams = { ...DEFAULT_HYPERPARAMS, ...parsed.data };
    const row = this.db.prepare("SELECT COALESCE(MAX(netuid), 0) AS m FROM subnets").get() as { m: number };
    const netuid = row.m + 1;
    this.db
      .prepare(
        "INSERT INTO subnets (netuid, owner_coldkey, owner_hotkey, params, created_at) VALUES (?, ?, ?, ?, ?)",
      )
      .run(netuid, owner, owner, JSON.stringify(hyperparamsToJson(params)), block);
    // As on subtensor, the owner's hotkey (here: the owner key itself) takes uid 0.
    if (!this.owner(owner))
      this.db.prepare("INSERT INTO hotkey_owner (hotkey, coldkey) VALUES (?, ?)").run(owner, owner);
    this.insertNeuron(netuid, 0, owner, block);
    return netuid;
  }

  private insertNeuron(netuid: number, uid: number, hotkey: string, block: number): void {
    this.db
      .prepare("INSERT INTO neurons (netuid, uid, hotkey, registered_at, last_update) VALUES (?, ?, ?, ?, ?)")
      .run(netuid, uid, hotkey, block, block);
  }

  private burnedRegister(coldkey: string, netuid: number, hotkey: string, block: number): number {
    const subnet = this.subnet(netuid);
    const params = this.hyperparams(netuid);
    if (!isAddress(hotkey)) throw chainError("BadTransaction", `hotkey ${hotkey} is not an SS58 address`);
    if (this.neuronByHotkey(netuid, hotkey)) {
      throw chainError(
        "HotKeyAlreadyRegisteredInSubNet",
        `hotkey ${hotkey} is already registered on subnet ${netuid}`,
      );
    }
    const existingOwner = this.owner(hotkey);
    if (existingOwner && existingOwner !== coldkey) {
      throw chainError("NonAssociatedColdKey", `hotkey ${hotkey} belongs to another coldkey`);
    }
    const balance = this.balance(coldkey);
    if (balance < params.burn) {
      throw chainError(
        "NotEnoughBalanceToStake",
        `registration burns ${params.burn} rao; ${coldkey} has ${balance}`,
      );
    }
    const neurons = this.neurons(netuid);
    let uid: number;
    if (neurons.length < params.maxAllowedUids) {
      uid = neurons.length;
      this.insertNeuron(netuid, uid, hotkey, block);
    } else {
      const candidates = neurons.filter(
        (r) => r.hotkey !== subnet.owner_hotkey && block - r.registered_at >= params.immunityPeriod,
      );
      if (candidates.length === 0) {
        throw chainError("NoNeuronIdAvailable", `subnet ${netuid} is full and every UID is immune or owned`);
      }
      candidates.sort(
        (a, b) =>
          (BigInt(a.emission) < BigInt(b.emission) ? -1 : BigInt(a.emission) > BigInt(b.emission) ? 1 : 0) ||
          a.registered_at - b.registered_at ||
          a.uid - b.uid,
      );
      uid = candidates[0].uid;
      this.db.prepare("DELETE FROM neurons WHERE netuid = ? AND uid = ?").run(netuid, uid);
      this.db
        .prepare("DELETE FROM commits WHERE netuid = ? AND hotkey = ?")
        .run(netuid, candidates[0].hotkey);
      this.insertNeuron(netuid, uid, hotkey, block);
    }
    this.setBalance(coldkey, balance - params.burn);
    if (!existingOwner)
      this.db.prepare("INSERT INTO hotkey_owner (hotkey, coldkey) VALUES (?, ?)").run(hotkey, coldkey);
    return uid;
  }

  private requireNeuron(netuid: number, hotkey: string, error = "HotKeyNotRegisteredInSubNet"): NeuronRow {
    const n = this.neuronByHotkey(netuid, hotkey);
    if (!n) throw chainError(error, `hotkey ${hotkey} is not registered on subnet ${netuid}`);
    return n;
  }

  private serveAxon(
    hotkey: string,
    args: { netuid: number; version: number; ip: string; port: number; protocol: number },
    block: number,
  ): void {
    this.subnet(args.netuid);
    this.requireNeuron(args.netuid, hotkey, "HotKeyNotRegisteredInNetwork");
    checkIp(args.ip);
    if (args.port === 0) throw chainError("InvalidPort", "axon port must not be 0");
    const axon: AxonInfo = { ip: args.ip, port: args.port, version: args.version, protocol: args.protocol };
    this.db
      .prepare("UPDATE neurons SET axon = ?, axon_block = ? WHERE netuid = ? AND hotkey = ?")
      .run(JSON.stringify(axon), block, args.netuid, hotkey);
  }

  private addStake(coldkey: string, netuid: number, hotkey: string, amount: bigint): void {
    this.subnet(netuid);
    if (!this.owner(hotkey))
      throw chainError("HotKeyAccountNotExists", `hotkey ${hotkey} has never been registered`);
    if (amount <= 0n) throw chainError("AmountTooLow", "stake amount must be > 0");
    const balance = this.balance(coldkey);
    if (balance < amount) {
      throw chainError("NotEnoughBalanceToStake", `staking ${amount} rao; ${coldkey} has ${balance}`);
    }
    this.setBalance(coldkey, balance - amount);
    this.addStakeRow(netuid, hotkey, coldkey, amount);
  }

  /** subtensor's set_weights checks, in its order (reference §3.3). */
  private setWeights(
    hotkey: string,
    netuid: number,
    uids: number[],
    values: number[],
    versionKey: number,
    block: number,
    fromReveal: boolean,
  ): void {
    const subnet = this.subnet(netuid);
    const params = this.hyperparams(netuid);
    if (!fromReveal && params.commitRevealEnabled) {
      throw chainError("CommitRevealEnabled", `subnet ${netuid} requires commit/reveal of weights`);
    }
    if (uids.length !== values.length)
      throw chainError("WeightVecNotEqualSize", "uids and weights differ in length");
    const neurons = this.neurons(netuid);
    const n = neurons.length;
    if (uids.length > n)
      throw chainError("UidsLengthExceedUidsInSubNet", `${uids.length} uids > ${n} in subnet`);
    const me = this.requireNeuron(netuid, hotkey);
    const isOwner = hotkey === subnet.owner_hotkey;
    if (!isOwner && this.hotkeyStake(netuid, hotkey) < params.minStakeToSetWeights) {
      throw chainError("NotEnoughStakeToSetWeights", `hotkey stake below ${params.minStakeToSetWeights} rao`);
    }
    if (params.weightsVersionKey !== 0 && versionKey < params.weightsVersionKey) {
      throw chainError(
        "IncorrectWeightVersionKey",
        `version key ${versionKey} < ${params.weightsVersionKey}`,
      );
    }
    if (!fromReveal && !(me.last_update === 0 || block - me.last_update >= params.weightsRateLimit)) {
      throw chainError(
        "SettingWeightsTooFast",
        `uid ${me.uid} set weights at block ${me.last_update}; next allowed at ${me.last_update + params.weightsRateLimit}`,
      );
    }
    const selfOnly = uids.length === 1 && uids[0] === me.uid;
    if (!selfOnly && !isOwner && me.validator_permit !== 1) {
      throw chainError("NeuronNoValidatorPermit", `uid ${me.uid} has no validator permit`);
    }
    if (new Set(uids).size !== uids.length) throw chainError("DuplicateUids", "duplicate uids");
    if (uids.some((u) => u >= n))
      throw chainError("UidVecContainInvalidOne", "a uid does not exist in the subnet");
    const minAllowed = Math.min(1, n);
    if (!selfOnly && uids.length < minAllowed) throw chainError("WeightVecLengthIsLow", "too few weights");
    const upscaled = maxUpscaleU16(values);
    const row = uids.map((u, k) => [u, upscaled[k]] as [number, number]).sort((a, b) => a[0] - b[0]);
    this.db
      .prepare("UPDATE neurons SET weights = ?, last_update = ? WHERE netuid = ? AND uid = ?")
      .run(JSON.stringify(row), block, netuid, me.uid);
  }

  /** Epoch index by subtensor's legacy rule: floor((block + netuid + 1) / (tempo + 1)). */
  private epochIndex(netuid: number, tempo: number, block: number): number {
    return Math.floor((block + netuid + 1) / (tempo + 1));
  }

  private commitWeights(hotkey: string, netuid: number, commitHash: string, block: number): void {
    this.subnet(netuid);
    const params = this.hyperparams(netuid);
    if (!params.commitRevealEnabled)
      throw chainError("CommitRevealDisabled", `subnet ${netuid} does not use commit/reveal`);
    const me = this.requireNeuron(netuid, hotkey);
    if (!(me.last_update === 0 || block - me.last_update >= params.weightsRateLimit)) {
      throw chainError(
        "SettingWeightsTooFast",
        `uid ${me.uid} committed or set weights at block ${me.last_update}`,
      );
    }
    const current = this.epochIndex(netuid, params.tempo, block);
    this.db
      .prepare("DELETE FROM commits WHERE netuid = ? AND hotkey = ? AND commit_epoch + ? < ?")
      .run(netuid, hotkey, params.commitRevealPeriod, current);
    const count = (
      this.db
        .prepare("SELECT COUNT(*) AS c FROM commits WHERE netuid = ? AND hotkey = ?")
        .get(netuid, hotkey) as { c: number }
    ).c;
    if (count >= MAX_UNREVEALED_COMMITS)
      throw chainError("TooManyUnrevealedCommits", "10 unrevealed commits already");
    const dup = this.db
      .prepare("SELECT 1 FROM commits WHERE netuid = ? AND hotkey = ? AND hash = ?")
      .get(netuid, hotkey, commitHash);
    if (dup) throw chainError("CommitAlreadyExists", "this hash is already committed");
    this.db
      .prepare(
        "INSERT INTO commits (netuid, hotkey, hash, commit_block, commit_epoch) VALUES (?, ?, ?, ?, ?)",
      )
      .run(netuid, hotkey, commitHash, block, current);
    this.db
      .prepare("UPDATE neurons SET last_update = ? WHERE netuid = ? AND uid = ?")
      .run(block, netuid, me.uid);
  }

  private revealWeights(
    hotkey: string,
    args: { netuid: number; uids: number[]; values: number[]; salt: number[]; versionKey: number },
    block: number,
  ): void {
    this.subnet(args.netuid);
    const params = this.hyperparams(args.netuid);
    if (!params.commitRevealEnabled)
      throw chainError("CommitRevealDisabled", `subnet ${args.netuid} does not use commit/reveal`);
    this.requireNeuron(args.netuid, hotkey);
    const commits = this.db
      .prepare("SELECT * FROM commits WHERE netuid = ? AND hotkey = ?")
      .all(args.netuid, hotkey) as {
      hash: string;
      commit_epoch: number;
    }[];
    if (commits.length === 0) throw chainError("NoWeightsCommitFound", `no weight commit for ${hotkey}`);
    const hash = weightsCommitHash(hotkey, args.netuid, args.uids, args.values, args.salt, args.versionKey);
    const commit = commits.find((c) => c.hash === hash);
    if (!commit)
      throw chainError("InvalidRevealCommitHashNotMatch", "revealed data does not match any commit");
    const current = this.epochIndex(args.netuid, params.tempo, block);
    const due = commit.commit_epoch + params.commitRevealPeriod;
    if (current < due) throw chainError("RevealTooEarly", `reveal in epoch ${due}; this is epoch ${current}`);
    if (current > due)
      throw chainError("ExpiredWeightCommit", `reveal was due in epoch ${due}; this is epoch ${current}`);
    this.setWeights(hotkey, args.netuid, args.uids, args.values, args.versionKey, block, true);
    this.db
      .prepare("DELETE FROM commits WHERE netuid = ? AND hotkey = ? AND hash = ?")
      .run(args.netuid, hotkey, hash);
  }

  /** Produces the next block: per-subnet emission (owner cut immediately, the rest pending) and due epochs. */
  produceBlock(): number {
    return this.db.transaction(() => {
      const block = this.block() + 1;
      this.db.prepare("UPDATE meta SET value = ? WHERE key = 'block'").run(String(block));
      for (const netuid of this.netuids()) {
        const subnet = this.subnet(netuid);
        const params = this.hyperparams(netuid);
        const ownerCut = (LOCAL_EMISSION_PER_BLOCK * OWNER_CUT_U16) / 65535n;
        // subtensor stakes the owner cut on the owner hotkey; here it is paid as free balance, so that on a small
        // dev network the owner's ever-growing stake does not outweigh the validators in consensus.
        this.setBalance(subnet.owner_coldkey, this.balance(subnet.owner_coldkey) + ownerCut);
        let pending = BigInt(subnet.pending_emission) + LOCAL_EMISSION_PER_BLOCK - ownerCut;
        if ((block + netuid + 1) % (params.tempo + 1) === 0) {
          this.runEpoch(netuid, subnet, params, block, pending);
          pending = 0n;
        }
        this.db
          .prepare("UPDATE subnets SET pending_emission = ? WHERE netuid = ?")
          .run(pending.toString(), netuid);
      }
      return block;
    })();
  }

  private runEpoch(
    netuid: number,
    subnet: SubnetRow,
    params: SubnetHyperparams,
    block: number,
    emission: bigint,
  ): void {
    const rows = this.neurons(netuid);
    const n = rows.length;
    if (n === 0) return;
    const ownerUid = rows.find((r) => r.hotkey === subnet.owner_hotkey)?.uid ?? null;
    let commitBlocks: number[] | undefined;
    if (params.commitRevealEnabled) {
      const current = this.epochIndex(netuid, params.tempo, block);
      const live = this.db
        .prepare(
          "SELECT hotkey, MIN(commit_block) AS b FROM commits WHERE netuid = ? AND commit_epoch + ? >= ? GROUP BY hotkey",
        )
        .all(netuid, params.commitRevealPeriod, current) as { hotkey: string; b: number }[];
      const byHotkey = new Map(live.map((r) => [r.hotkey, r.b]));
      commitBlocks = rows.map((r) => byHotkey.get(r.hotkey) ?? Number.POSITIVE_INFINITY);
    }
    const out = yumaEpoch({
      n,
      currentBlock: block,
      tempo: params.tempo,
      activityCutoff: params.activityCutoff,
      lastEpochBlock: subnet.last_epoch_block,
      stake: rows.map((r) => this.hotkeyStake(netuid, r.hotkey)),
      ownerUid,
      lastUpdate: rows.map((r) => r.last_update),
      blockAtRegistration: rows.map((r) => r.registered_at),
      validatorPermit: rows.map((r) => r.validator_permit === 1),
      weights: rows.map((r) => JSON.parse(r.weights) as SparseRow),
      bonds: rows.map((r) => JSON.parse(r.bonds) as SparseRow),
      commitBlocks,
      emission,
      params,
    });
    const update = this.db.prepare(
      `UPDATE neurons SET consensus = ?, incentive = ?, dividends = ?, validator_trust = ?, emission = ?,
         validator_permit = ?, active = ?, bonds = ? WHERE netuid = ? AND uid = ?`,
    );
    for (const r of rows) {
      const i = r.uid;
      update.run(
        out.stored.consensus[i],
        out.stored.incentive[i],
        out.stored.dividends[i],
        out.stored.validatorTrust[i],
        out.emission[i].toString(),
        out.validatorPermit[i] ? 1 : 0,
        out.active[i] ? 1 : 0,
        JSON.stringify(out.bonds[i]),
        netuid,
        i,
      );
      // Incentive earned by the owner's own hotkey is recycled, as on subtensor.
      const earned = (i === ownerUid ? 0n : out.serverEmission[i]) + out.validatorEmission[i];
      const coldkey = this.owner(r.hotkey);
      if (earned > 0n && coldkey) this.addStakeRow(netuid, r.hotkey, coldkey, earned);
    }
    this.db
      .prepare("DELETE FROM commits WHERE netuid = ? AND commit_epoch + ? < ?")
      .run(netuid, params.commitRevealPeriod, this.epochIndex(netuid, params.tempo, block));
    this.db.prepare("UPDATE subnets SET last_epoch_block = ? WHERE netuid = ?").run(block, netuid);
  }
}
