import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

// Built into packages/web/dist, which the renter API serves. `npm run dev -w @computemesh/web` proxies
// the API from CMESH_API_URL (default http://127.0.0.1:8080).
export default defineConfig({
  root: import.meta.dirname,
  plugins: [react()],
  build: { outDir: "dist", emptyOutDir: true, chunkSizeWarningLimit: 2000 },
  server: {
    host: "127.0.0.1",
    proxy: { "/v1": process.env.CMESH_API_URL ?? "http://127.0.0.1:8080" },
  },
});
