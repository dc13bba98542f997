import { render } from 'preact';
import { App } from './app';
import { onLinkClick } from './router';
import './styles.css';

document.addEventListener('click', onLinkClick);
const root = document.getElementById('app');
if (root) render(<App />, root);

// The offline shell (public/sw.js). Where service workers are unavailable (plain http on
// another host than localhost) the app works as before, without it.
if ('serviceWorker' in navigator) {
  window.addEventListener('load', () => {
    navigator.serviceWorker.register('/sw.js', { scope: '/' }).catch(() => {
      // Not installable here; nothing else depends on it.
    });
  });
}
