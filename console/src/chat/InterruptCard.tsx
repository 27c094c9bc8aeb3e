// An interrupt waiting for a human: its payload, approve / reject, or resume with an edited value.
// Approve and reject resume with {"approved": true|false}, the convention of the example agent.
import { useState } from "react";
import { Json, parseJsonField } from "../components/common";
import { errorText } from "../api";

export function InterruptCard({
  value,
  busy,
  onResume,
}: {
  value: unknown;
  busy: boolean;
  onResume: (resume: unknown) => void;
}) {
  const [editing, setEditing] = useState(false);
  const [text, setText] = useState('{"approved": true}');
  const [error, setError] = useState<string | null>(null);
  return (
    <section className="interrupt" aria-label="Interrupt" data-testid="interrupt">
      <h3>Waiting for you</h3>
      <Json value={value} />
      <div className="row">
        <button className="primary" disabled={busy} onClick={() => onResume({ approved: true })}>
          Approve
        </button>
        <button className="danger" disabled={busy} onClick={() => onResume({ approved: false })}>
          Reject
        </button>
        <button disabled={busy} onClick={() => setEditing((e) => !e)}>
          Edit and resume…
        </button>
      </div>
      {editing && (
        <form
          className="edit-resume"
          onSubmit={(e) => {
            e.preventDefault();
            try {
              const parsed = parseJsonField(text, "The resume value");
              setError(null);
              onResume(parsed ?? null);
            } catch (err) {
              setError(errorText(err));
            }
          }}
        >
          <label>
            Resume value (JSON)
            <textarea rows={4} value={text} onChange={(e) => setText(e.target.value)} spellCheck={false} />
          </label>
          {error && <p className="error">{error}</p>}
          <button type="submit" disabled={busy}>
            Resume
          </button>
        </form>
      )}
    </section>
  );
}
