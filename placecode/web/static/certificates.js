// Prove an organisation with its legal-person certificate, in the browser:
// ask for a one-time challenge, sign it with the private key (read locally, never sent),
// then send certificate + signature. Used by /apply and /organisation.
(function () {
  "use strict";
  var form = document.getElementById("certificate-form");
  if (!form) { return; }
  var errorBox = form.querySelector("[data-testid=certificate-error]");
  var doneBox = form.querySelector("[data-testid=certificate-done]");

  function show(box, text) {
    errorBox.classList.add("hidden");
    doneBox.classList.add("hidden");
    box.textContent = text;
    box.classList.remove("hidden");
  }

  function pemBody(pem) {
    var body = pem.replace(/-----(BEGIN|END) [A-Z ]+-----/g, "").replace(/\s+/g, "");
    var raw = atob(body);
    var bytes = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i++) { bytes[i] = raw.charCodeAt(i); }
    return bytes.buffer;
  }

  function base64(buffer) {
    var bytes = new Uint8Array(buffer), text = "";
    for (var i = 0; i < bytes.length; i++) { text += String.fromCharCode(bytes[i]); }
    return btoa(text);
  }

  async function importKey(der) {
    var attempts = [
      [{ name: "ECDSA", namedCurve: "P-256" }, { name: "ECDSA", hash: "SHA-256" }],
      [{ name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" }, { name: "RSASSA-PKCS1-v1_5" }],
      [{ name: "Ed25519" }, { name: "Ed25519" }]
    ];
    for (var i = 0; i < attempts.length; i++) {
      try {
        var key = await crypto.subtle.importKey("pkcs8", der, attempts[i][0], false, ["sign"]);
        return { key: key, algorithm: attempts[i][1] };
      } catch (ignored) { /* try the next key type */ }
    }
    throw new Error(form.dataset.keyError || "The private key cannot be read (PKCS#8 PEM expected).");
  }

  async function post(url, body) {
    var headers = { "Content-Type": "application/json", "Accept": "application/json" };
    var csrf = form.querySelector("input[name=csrf_token]");
    if (csrf) { headers["X-CSRF-Token"] = csrf.value; }
    var response = await fetch(url, { method: "POST", headers: headers, body: JSON.stringify(body), credentials: "same-origin" });
    var answer = await response.json().catch(function () { return {}; });
    if (!response.ok) { throw new Error(answer.message || ("HTTP " + response.status)); }
    return answer;
  }

  form.addEventListener("submit", async function (event) {
    event.preventDefault();
    var button = form.querySelector("button[type=submit]");
    button.disabled = true;
    try {
      var certificate = await form.certificate.files[0].text();
      var keyPem = await form.key.files[0].text();
      var challenge = await post("/api/v1/certificates/challenges", { certificate_pem: certificate });
      var signer = await importKey(pemBody(keyPem));
      var signature = base64(await crypto.subtle.sign(signer.algorithm, signer.key, new TextEncoder().encode(challenge.challenge)));
      var proof = { certificate_pem: certificate, challenge_id: challenge.challenge_id, signature: signature };
      if (form.dataset.mode === "apply") {
        proof.kind = form.kind.value;
        proof.street_code = form.street_code.value || null;
        proof.username = form.username.value;
        proof.password = form.password.value;
        var result = await post("/api/v1/organisations/apply", proof);
        show(doneBox, doneBox.dataset.doneText + " (" + result.username + ")");
        var link = document.createElement("a");
        link.href = "/login?next=/organisation";
        link.className = "button primary";
        link.dataset.testid = "sign-in-link";
        link.textContent = "→";
        doneBox.appendChild(document.createTextNode(" "));
        doneBox.appendChild(link);
      } else {
        await post("/api/v1/organisations/" + form.dataset.organisation + "/verify", proof);
        show(doneBox, doneBox.dataset.doneText);
        setTimeout(function () { window.location.reload(); }, 600);
      }
    } catch (problem) {
      show(errorBox, problem.message);
    } finally {
      button.disabled = false;
    }
  });
})();
