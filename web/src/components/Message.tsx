import { ApiError } from '../api';

/** A failure as a clear message (role=alert, read out by screen readers), with a retry. */
export function ErrorMessage({ error, onRetry }: { error: unknown; onRetry?: () => void }) {
  const text = error instanceof Error ? error.message : String(error);
  const kind = error instanceof ApiError ? error.kind : 'server';
  return (
    <div class={`message error kind-${kind}`} role="alert">
      <p>{text}</p>
      {onRetry && kind !== 'auth' && (
        <button type="button" onClick={onRetry}>
          Try again
        </button>
      )}
    </div>
  );
}

export function Loading({ what }: { what: string }) {
  return (
    <p class="loading" role="status">
      Loading {what}…
    </p>
  );
}
