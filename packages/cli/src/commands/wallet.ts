import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { type Command, Option } from "@commander-js/extra-typings";
import { CmeshError } from "@computemesh/core";
import {
  cryptoReady,
  DEFAULT_WALLET_PATH,
  expandHome,
  type KeyringPair,
  type MnemonicWords,
  Wallet,
} from "@computemesh/protocol";
import ora from "ora";

/** Environment variable holding the wallet password for scripts (no prompt when set). */
export const PASSWORD_ENV = "CMESH_WALLET_PASSWORD";

export interface WalletCliOptions {
  "wallet.path"?: string;
  "wallet.name"?: string;
  "wallet.hotkey"?: string;
}

/** Adds btcli's `--wallet.path`, `--wallet.name`, `--wallet.hotkey` options to a command. */
// biome-ignore lint/suspicious/noExplicitAny: accepts a command with any arguments and options already declared
export function withWalletOptions(cmd: Command<any, any, any>): Command<any, any, any> {
  return cmd
    .option("--wallet.path <dir>", "directory holding wallets", DEFAULT_WALLET_PATH)
    .option("--wallet.name <name>", "wallet (coldkey) name", "default")
    .option("--wallet.hotkey <name>", "hotkey name", "default");
}

export function walletFromOptions(opts: WalletCliOptions): Wallet {
  return new Wallet({ path: opts["wallet.path"], name: opts["wallet.name"], hotkey: opts["wallet.hotkey"] });
}

/** The parsed options of the command an action runs for (commander passes the command last). */
export function actionOptions<T>(args: unknown[]): T {
  return (args[args.length - 1] as { opts(): T }).opts();
}

/** Reads a line from the terminal without echoing it. */
async function promptHidden(question: string): Promise<string> {
  const stdin = process.stdin;
  if (!stdin.isTTY) {
    throw new CmeshError(
      "WALLET_PASSWORD_REQUIRED",
      "a password is needed and there is no terminal to ask it on",
      {
        hint: `set ${PASSWORD_ENV}, or pass --no-password to create an unencrypted key`,
      },
    );
  }
  process.stderr.write(question);
  stdin.setRawMode(true);
  stdin.resume();
  stdin.setEncoding("utf8");
  return new Promise<string>((resolve, reject) => {
    let text = "";
    const onData = (chunk: string) => {
      for (const ch of chunk) {
        if (ch === "\r" || ch === "\n" || ch === "\u0004") {
          done();
          resolve(text);
          return;
        }
        if (ch === "\u0003") {
          done();
          reject(new CmeshError("ABORTED", "aborted at the password prompt"));
          return;
        }
        if (ch === "\u007f" || ch === "\b") text = text.slice(0, -1);
        else text += ch;
      }
    };
    const done = () => {
      stdin.off("data", onData);
      stdin.setRawMode(false);
      stdin.pause();
      process.stderr.write("\n");
    };
    stdin.on("data", onData);
  });
}

/** Password from CMESH_WALLET_PASSWORD or a prompt (asked twice when `confirm`). */
export async function readPassword(purpose: string, confirm = false): Promise<string> {
  const fromEnv = process.env[PASSWORD_ENV];
  if (fromEnv !== undefined && fromEnv !== "") return fromEnv;
  const first = await promptHidden(`Password for ${purpose}: `);
  if (confirm) {
    if (first.length === 0) {
      throw new CmeshError("WALLET_PASSWORD_EMPTY", "the password is empty", {
        hint: "type a password, or pass --no-password to write the key unencrypted",
      });
    }
    const second = await promptHidden("Repeat the password: ");
    if (first !== second) {
      throw new CmeshError("WALLET_PASSWORD_MISMATCH", "the two passwords differ", {
        hint: "run the command again",
      });
    }
  }
  return first;
}

/** Runs `work` with a spinner on stderr (the Argon2i key derivation of $NACL keyfiles takes ~5 s). */
async function withSpinner<T>(text: string, work: () => Promise<T>): Promise<T> {
  const spinner = ora({ text, stream: process.stderr, isEnabled: process.stderr.isTTY === true }).start();
  try {
    const result = await work();
    spinner.succeed();
    return result;
  } catch (err) {
    spinner.fail();
    throw err;
  }
}

/** Loads the wallet's hotkey, asking for its password only if the keyfile is encrypted. For other commands. */
export async function loadHotkeyInteractive(wallet: Wallet): Promise<KeyringPair> {
  await cryptoReady();
  if (!(await wallet.isEncrypted("hotkey"))) return wallet.loadHotkey();
  const password = await readPassword(`hotkey ${wallet.name}/${wallet.hotkeyName}`);
  return withSpinner("Decrypting hotkey (Argon2i)", () => wallet.loadHotkey(password));
}

/** Loads the wallet's coldkey, asking for its password if the keyfile is encrypted. For other commands. */
export async function loadColdkeyInteractive(wallet: Wallet): Promise<KeyringPair> {
  await cryptoReady();
  if (!(await wallet.isEncrypted("coldkey"))) return wallet.loadColdkey();
  const password = await readPassword(`coldkey ${wallet.name}`);
  return withSpinner("Decrypting coldkey (Argon2i)", () => wallet.loadColdkey(password));
}

const WORDS = ["12", "15", "18", "21", "24"] as const;

function printCreated(
  kind: string,
  wallet: Wallet,
  file: string,
  r: { mnemonic: string; address: string },
  showMnemonic: boolean,
) {
  process.stdout.write(
    `${kind} ${wallet.name}${kind === "hotkey" ? `/${wallet.hotkeyName}` : ""}: ${r.address}\n`,
  );
  process.stdout.write(`written to ${file}\n`);
  if (showMnemonic) {
    process.stdout.write(
      `\nmnemonic (the only way to recover this key; store it offline, never share it):\n${r.mnemonic}\n`,
    );
  }
}

type KeyOpts = WalletCliOptions & { mnemonic?: string; overwrite?: boolean; nWords?: string };

async function createKey(kind: "coldkey" | "hotkey", opts: KeyOpts & { encrypt: boolean }): Promise<void> {
  await cryptoReady();
  const wallet = walletFromOptions(opts);
  const file = kind === "coldkey" ? wallet.coldkeyFile : wallet.hotkeyFile;
  const password = opts.encrypt ? await readPassword(`the new ${kind}`, true) : null;
  const create = () => {
    const o = {
      mnemonic: opts.mnemonic,
      password,
      overwrite: opts.overwrite ?? false,
      words: Number(opts.nWords ?? 12) as MnemonicWords,
    };
    return kind === "coldkey" ? wallet.createColdkey(o) : wallet.createHotkey(o);
  };
  const result = password
    ? await withSpinner(`Encrypting ${kind} (Argon2i, about 5 s)`, create)
    : await create();
  printCreated(kind, wallet, file, result, opts.mnemonic === undefined);
}

async function listWallets(
  root: string,
): Promise<{ name: string; coldkey: string | null; hotkeys: { name: string; address: string | null }[] }[]> {
  let names: string[];
  try {
    names = (await readdir(root, { withFileTypes: true }))
      .filter((d) => d.isDirectory())
      .map((d) => d.name)
      .sort();
  } catch {
    throw new CmeshError("WALLET_NOT_FOUND", `no wallets directory at ${root}`, {
      hint: "create a wallet with `cmesh wallet new-coldkey`, or point --wallet.path at your wallets",
    });
  }
  const out = [];
  for (const name of names) {
    const w = new Wallet({ path: root, name });
    const coldkey = await w.coldkeyAddress().catch(() => null);
    const hotkeys = [];
    for (const hk of await w.hotkeyNames()) {
      hotkeys.push({
        name: hk,
        address: await new Wallet({ path: root, name, hotkey: hk }).hotkeyAddress().catch(() => null),
      });
    }
    out.push({ name, coldkey, hotkeys });
  }
  return out;
}

/** Registers the `cmesh wallet` commands (btcli-compatible wallet files). */
export function register(program: Command): void {
  const wallet = program
    .command("wallet")
    .description(
      `btcli-compatible wallets under ~/.bittensor/wallets (coldkey, coldkeypub.txt, hotkeys/NAME).\nPasswords come from a prompt or from $${PASSWORD_ENV}.`,
    );

  const keyCommand = (name: string, kind: "coldkey" | "hotkey", regen: boolean) => {
    let cmd = withWalletOptions(wallet.command(name))
      .description(
        regen
          ? `recreate the ${kind} from its mnemonic`
          : `create a new ${kind} with a fresh mnemonic (printed once: write it down)`,
      )
      .option("--overwrite", `replace an existing ${kind} file`, false);
    if (regen) cmd = cmd.requiredOption("--mnemonic <words>", "the 12-24 word BIP-39 phrase, quoted");
    else cmd = cmd.addOption(new Option("--n-words <n>", "mnemonic length").choices(WORDS).default("12"));
    return cmd;
  };

  for (const [name, regen] of [
    ["new-coldkey", false],
    ["regen-coldkey", true],
  ] as const) {
    keyCommand(name, "coldkey", regen)
      .option("--no-password", "write the coldkey unencrypted (not recommended)")
      .action(async (...args) => {
        const opts = actionOptions<KeyOpts & { password: boolean }>(args);
        await createKey("coldkey", { ...opts, encrypt: opts.password });
      });
  }
  for (const [name, regen] of [
    ["new-hotkey", false],
    ["regen-hotkey", true],
  ] as const) {
    keyCommand(name, "hotkey", regen)
      .option("--use-password", "encrypt the hotkey (btcli leaves hotkeys unencrypted by default)", false)
      .option("--no-password", "write the hotkey unencrypted (the default)")
      .action(async (...args) => {
        const opts = actionOptions<KeyOpts & { password: boolean; usePassword: boolean }>(args);
        await createKey("hotkey", { ...opts, encrypt: opts.usePassword && opts.password });
      });
  }

  withWalletOptions(wallet.command("list"))
    .description("list wallets and their hotkeys with SS58 addresses")
    .option("--json", "print JSON", false)
    .action(async (...args) => {
      const opts = actionOptions<WalletCliOptions & { json: boolean }>(args);
      await cryptoReady();
      const root = expandHome(opts["wallet.path"] ?? DEFAULT_WALLET_PATH);
      const wallets = await listWallets(root);
      if (opts.json) {
        process.stdout.write(`${JSON.stringify({ path: root, wallets }, null, 2)}\n`);
        return;
      }
      process.stdout.write(`Wallets in ${root}\n`);
      if (wallets.length === 0) process.stdout.write("  (none)\n");
      for (const w of wallets) {
        process.stdout.write(`${w.name} (${w.coldkey ?? "no readable coldkeypub"})\n`);
        for (const h of w.hotkeys)
          process.stdout.write(`  └─ ${h.name} (${h.address ?? "encrypted, no pub file"})\n`);
      }
    });

  withWalletOptions(wallet.command("show"))
    .description("print the SS58 addresses of a wallet's coldkey and hotkey (no password needed)")
    .option("--json", "print JSON", false)
    .action(async (...args) => {
      const opts = actionOptions<WalletCliOptions & { json: boolean }>(args);
      await cryptoReady();
      const w = walletFromOptions(opts);
      const coldkey = await w.coldkeyAddress();
      const hotkey = await w.hotkeyAddress().catch(() => null);
      if (opts.json) {
        process.stdout.write(
          `${JSON.stringify({ wallet: w.name, path: join(w.path, w.name), coldkey, hotkeyName: w.hotkeyName, hotkey })}\n`,
        );
        return;
      }
      process.stdout.write(`wallet   ${w.name} (${join(w.path, w.name)})\n`);
      process.stdout.write(`coldkey  ${coldkey}\n`);
      process.stdout.write(
        `hotkey   ${w.hotkeyName} ${hotkey ?? "(missing: create it with `cmesh wallet new-hotkey`)"}\n`,
      );
    });
}
