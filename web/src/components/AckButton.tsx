import { useState } from 'preact/hooks';
import { apiPost } from '../api';
import type { AlarmEvent } from '../types';
import { ErrorMessage } from './Message';

/** Acknowledges an alarm event (operators and admins); its refusal shown under the button. */
export function AckButton({ e, onAcked }: { e: AlarmEvent; onAcked: (e: AlarmEvent) => void }) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const ack = async () => {
    setBusy(true);
    setError(null);
    try {
      onAcked(await apiPost<AlarmEvent>(`/api/v1/alarms/events/${e.id}/ack`));
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <>
      <button type="button" onClick={ack} disabled={busy} aria-label={`Acknowledge event ${e.id}: ${e.name}`}>
        {busy ? 'Acknowledging…' : 'Acknowledge'}
      </button>
      {error !== null && <ErrorMessage error={error} />}
    </>
  );
}
