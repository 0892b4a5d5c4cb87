import { useSyncExternalStore } from "react";

/** A tiny hash router: #/market, #/machine/HOTKEY, #/rent/HOTKEY, #/rentals, #/jobs, #/network, #/miner/HOTKEY. */
export function useRoute(): string[] {
  const hash = useSyncExternalStore(
    (cb) => {
      window.addEventListener("hashchange", cb);
      return () => window.removeEventListener("hashchange", cb);
    },
    () => window.location.hash,
  );
  const parts = hash.replace(/^#\/?/, "").split("/").filter(Boolean).map(decodeURIComponent);
  return parts.length ? parts : ["market"];
}

export function href(...parts: string[]): string {
  return `#/${parts.map(encodeURIComponent).join("/")}`;
}

export function go(...parts: string[]): void {
  window.location.hash = href(...parts);
}
