// GET/POST /devicelogin: the page a person opens to enter a user code and
// approve (as a chosen user) or decline the sign-in.
import { USERS } from './directory.mjs';
import { approveDeviceCode, denyDeviceCode } from './identity.mjs';
import { readBody, parseForm, sendHtml, escapeHtml } from './http.mjs';

function page(title, inner) {
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title>
<style>body{font-family:sans-serif;max-width:32em;margin:3em auto}label{display:block;margin:.8em 0}</style>
</head><body><h1>${escapeHtml(title)}</h1>
${inner}
</body></html>
`;
}

function form(message = '') {
  const options = USERS.map((u) => `<option value="${escapeHtml(u.upn)}">${escapeHtml(u.upn)}</option>`).join('');
  return page('Enter code', `${message ? `<p><strong>${escapeHtml(message)}</strong></p>` : ''}
<p>Enter the code displayed on your app or device.</p>
<form method="post" action="/devicelogin">
<label>Code <input name="otc" autocomplete="off" required></label>
<label>Sign in as <select name="upn">${options}</select></label>
<button name="action" value="approve">Continue</button>
<button name="action" value="deny">Cancel sign-in</button>
</form>`);
}

export async function handleDeviceLogin(emu, req, res) {
  if (req.method === 'GET') {
    sendHtml(res, 200, form());
    return;
  }
  const fields = parseForm(await readBody(req));
  const error = fields.action === 'deny'
    ? denyDeviceCode(emu, fields.otc)
    : approveDeviceCode(emu, fields.otc, fields.upn);
  if (error) {
    sendHtml(res, 400, form(error));
    return;
  }
  const done = fields.action === 'deny'
    ? 'You declined the sign-in. You can close this window.'
    : `You have signed in as ${fields.upn} on your device. You can close this window.`;
  sendHtml(res, 200, page('Done', `<p>${escapeHtml(done)}</p>`));
}
