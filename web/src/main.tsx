import { render } from 'preact';
import { App } from './app';
import { onLinkClick } from './router';
import './styles.css';

document.addEventListener('click', onLinkClick);
const root = document.getElementById('app');
if (root) render(<App />, root);
