// The console's entry: session gate, navigation and one route per page (deep links work
// because the API answers every /console/<path> with this index.html).
import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { BrowserRouter, NavLink, Route, Routes } from "react-router-dom";
import { ChatPage } from "./chat/ChatPage";
import { CronsPage } from "./pages/Crons";
import { RunInspectorPage } from "./pages/RunInspector";
import { RunsPage } from "./pages/Runs";
import { StorePage } from "./pages/Store";
import { ThreadsPage } from "./pages/Threads";
import { WorkersPage } from "./pages/Workers";
import { SessionGate, useSession } from "./session";
import "./styles.css";

const PAGES: [string, string][] = [
  ["/", "Chat"],
  ["/runs", "Runs"],
  ["/workers", "Workers"],
  ["/threads", "Threads"],
  ["/store", "Store"],
  ["/crons", "Crons"],
];

function Shell() {
  const { config, signOut } = useSession();
  return (
    <div className="shell">
      <header className="topbar">
        <span className="brand">Headwater</span>
        <nav aria-label="Pages">
          {PAGES.map(([to, label]) => (
            <NavLink key={to} to={to} end={to === "/"}>
              {label}
            </NavLink>
          ))}
        </nav>
        <span className="meta">
          {config.mode} · v{config.version}
          {config.auth !== "none" && (
            <button className="small link" onClick={signOut}>
              sign out
            </button>
          )}
        </span>
      </header>
      <Routes>
        <Route path="/" element={<ChatPage />} />
        <Route path="/runs" element={<RunsPage />} />
        <Route path="/runs/:runId" element={<RunInspectorPage />} />
        <Route path="/workers" element={<WorkersPage />} />
        <Route path="/threads" element={<ThreadsPage />} />
        <Route path="/store" element={<StorePage />} />
        <Route path="/crons" element={<CronsPage />} />
        <Route path="*" element={<main className="page empty">No such page.</main>} />
      </Routes>
    </div>
  );
}

createRoot(document.getElementById("root")!).render(
  <StrictMode>
    <BrowserRouter basename="/console">
      <SessionGate>
        <Shell />
      </SessionGate>
    </BrowserRouter>
  </StrictMode>,
);
