import { mount } from 'svelte';
import App from './App.svelte';
import './app.css';
import { applySettings } from './lib/settings.svelte';

applySettings();
const app = mount(App, { target: document.getElementById('app')! });

export default app;
