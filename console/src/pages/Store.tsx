// The memory store: namespaces, the items of one, and search with a `query`.
import { useState } from "react";
import { ago, Empty, ErrorBox, Json, useLoad } from "../components/common";
import { useSession } from "../session";

export function StorePage() {
  const { client } = useSession();
  const namespaces = useLoad(() => client.store.listNamespaces({ limit: 200 }), [client]);
  const [namespace, setNamespace] = useState<string[]>([]);
  const [query, setQuery] = useState("");
  const [submitted, setSubmitted] = useState("");
  const items = useLoad(
    () => client.store.searchItems(namespace, { query: submitted || undefined, limit: 50 }),
    [client, namespace, submitted],
  );
  return (
    <main className="page split">
      <section className="panel">
        <h2>Namespaces</h2>
        <ErrorBox error={namespaces.error} retry={namespaces.reload} />
        <ul className="list">
          <li>
            <button className={namespace.length === 0 ? "thread active" : "thread"} onClick={() => setNamespace([])}>
              (all)
            </button>
          </li>
          {(namespaces.data?.namespaces ?? []).map((ns) => (
            <li key={ns.join("\u0000")}>
              <button className={ns.join("/") === namespace.join("/") ? "thread active" : "thread"} onClick={() => setNamespace(ns)}>
                {ns.join(" / ")}
              </button>
            </li>
          ))}
        </ul>
        {namespaces.data?.namespaces.length === 0 && <Empty>The store is empty.</Empty>}
      </section>
      <section className="panel detail">
        <form
          className="filters"
          onSubmit={(e) => {
            e.preventDefault();
            setSubmitted(query);
          }}
        >
          <label>
            Search <input value={query} onChange={(e) => setQuery(e.target.value)} placeholder="query (ranked search)" aria-label="Store query" />
          </label>
          <button type="submit">Search</button>
        </form>
        <ErrorBox error={items.error} retry={items.reload} />
        {items.data?.items.length === 0 && <Empty>No item.</Empty>}
        {(items.data?.items ?? []).map((item) => (
          <details key={`${item.namespace.join("/")}/${item.key}`} className="store-item" open>
            <summary>
              <span className="muted">{item.namespace.join(" / ")} /</span> <strong>{item.key}</strong>{" "}
              <span className="muted small-text">
                {ago(item.updatedAt as unknown as string)}
                {typeof item.score === "number" ? ` · score ${item.score.toFixed(3)}` : ""}
              </span>
            </summary>
            <Json value={item.value} />
          </details>
        ))}
      </section>
    </main>
  );
}
