# Turkish names and places are spelled with the dotless i (U+0131) on purpose.
# ruff: noqa: RUF001
"""Synthetic demo data: people, organisations and what links them, with known near-duplicates.

``demo_seed`` fills pilot tenants with realistic-looking records for demos, load
tests and entity-resolution (ER) scoring. It is a service like the others in
this app (validates, writes in one transaction per tenant, records one audit
event per tenant) but writes rows with PostgreSQL ``COPY`` in batches, so a
million entities load in minutes without holding them all in memory.

What is generated (see ``docs/demo-data.md`` for the full description):

* entities of every kind in fixed shares (``KIND_SHARES``), with the attribute
  keys entity resolution reads (persons: given_name, family_name, birth_date,
  email, phone, street, city, postal_code, country, national_id; organisations:
  legal_name, registration_number, country, city, postal_code, street,
  incorporation_date, industry);
* relationships between them (works_for, lives_at, holds_account,
  transferred_to, ...);
* near-duplicate persons and organisations (about ``DUPLICATE_RATE`` of those
  records) altered the way real sources disagree: typos, nicknames, swapped
  day and month, reformatted phones, moved addresses, missing fields;
* the ground truth in ``GroundTruthLabel``: every person and organisation
  record names the real-world identity it stands for and, for a duplicate, how
  it was altered;
* one ``Provenance`` row per entity, pointing at the tenant's demo ``Source``,
  which is how ``--replace`` later finds the demo entities again.

Determinism: the same seed, entity count, tenant position and slug give the
same rows, ids included. Content comes from ``random.Random`` seeded with the
seed and the tenant's position; ids come from a second generator seeded with
the seed and the tenant's slug, so the same content can be loaded twice into
two tenants without key clashes. Only ``created_at``/``updated_at`` (the time
of loading) differ between runs.
"""

from __future__ import annotations

import bisect
import itertools
import json
import random
import time
import unicodedata
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

from django.core.exceptions import ValidationError
from django.db import connection, models, transaction
from django.utils import timezone

from apps.compliance import services as audit
from apps.core import services
from apps.core.choices import EntityKind, ProvenanceMethod, SourceKind
from apps.core.models import Entity, GroundTruthLabel, Provenance, Relationship, Source, Tenant
from apps.graph.services import drain_soon, outbox_add_sql

GENERATOR_VERSION = 1
DEFAULT_SLUGS = ("pilot-north", "pilot-south", "pilot-east", "pilot-west")
DEFAULT_ENTITIES = 10_000
DEFAULT_SEED = 42
TENANT_FEATURE_FLAGS = {"explorer": True, "er": True}
DEMO_SOURCE_NAME = "Synthetic demo data"
BATCH_SIZE = 20_000
DUPLICATE_RATE = 0.12  # share of person and organisation records that are near-duplicates of another
MAX_DUPLICATES_PER_IDENTITY = 3

# Share of each kind among a tenant's entities; duplicates count towards their kind.
KIND_SHARES = {
    EntityKind.PERSON: 0.34,
    EntityKind.ORGANIZATION: 0.10,
    EntityKind.ACCOUNT: 0.16,
    EntityKind.ADDRESS: 0.14,
    EntityKind.PHONE: 0.10,
    EntityKind.EMAIL: 0.10,
    EntityKind.VEHICLE: 0.03,
    EntityKind.EVENT: 0.03,
}

# ============================================================================ reference data
# Small hand-made lists instead of Faker: fixed content keeps output stable across
# library upgrades, and several cultures per country keep a million rows varied.


@dataclass(frozen=True)
class NameCulture:
    male: tuple[str, ...]
    female: tuple[str, ...]
    family: tuple[str, ...]
    feminine_surnames: tuple[tuple[str, str], ...] = ()  # suffix rewrites for women's surnames
    double_surname: float = 0.0  # chance of two family names (Spanish naming)


def _names(text: str) -> tuple[str, ...]:
    return tuple(name.strip() for name in text.split(",") if name.strip())


CULTURES: dict[str, NameCulture] = {
    "english": NameCulture(
        male=_names(
            "James, John, Robert, Michael, William, David, Richard, Joseph, Thomas, Charles, Christopher, Daniel,"
            "Matthew, Anthony, Mark, Andrew, Steven, Paul, Joshua, Kenneth, Kevin, Brian, George, Edward, Ronald,"
            "Timothy, Jason, Jeffrey, Ryan, Jacob, Gary, Nicholas, Eric, Jonathan, Stephen, Benjamin, Samuel,"
            "Patrick, Alexander, Oliver, Harry, Jack, Henry, Peter, Simon, Graham, Neil, Stuart, Gareth, Callum"
        ),
        female=_names(
            "Mary, Patricia, Jennifer, Linda, Elizabeth, Barbara, Susan, Jessica, Sarah, Karen, Nancy, Margaret,"
            "Lisa, Betty, Dorothy, Sandra, Ashley, Kimberly, Donna, Emily, Michelle, Carol, Amanda, Melissa,"
            "Deborah, Stephanie, Rebecca, Laura, Helen, Sharon, Katherine, Victoria, Charlotte, Amelia, Olivia,"
            "Sophie, Emma, Hannah, Lucy, Rachel, Claire, Joanne, Gemma, Natalie, Abigail, Eleanor"
        ),
        family=_names(
            "Smith, Johnson, Williams, Brown, Jones, Miller, Davis, Wilson, Anderson, Taylor, Thomas, Moore,"
            "Jackson, Martin, Thompson, White, Harris, Clark, Lewis, Robinson, Walker, Young, Allen, King, Wright,"
            "Scott, Hill, Green, Adams, Baker, Nelson, Carter, Mitchell, Roberts, Turner, Phillips, Campbell,"
            "Parker, Evans, Edwards, Collins, Stewart, Morris, Murphy, Cook, Rogers, Morgan, Cooper, Peterson,"
            "Bailey, Reed, Kelly, Howard, Ward, Cox, Richardson, Wood, Watson, Brooks, Bennett, Gray, Hughes,"
            "Price, Sanders, Myers, Foster, Powell, Jenkins, Perry, Russell, Sullivan, Bell, Coleman, Butler,"
            "Henderson, Barnes, Fisher, Harrington, O'Brien, O'Connor, McDonald, MacLeod, Fitzgerald, Ashworth,"
            "Pemberton, Whitfield, Holloway, Blackwood"
        ),
    ),
    "german": NameCulture(
        male=_names(
            "Hans, Peter, Klaus, Wolfgang, Jürgen, Dieter, Michael, Thomas, Andreas, Stefan, Frank, Uwe, Bernd,"
            "Markus, Matthias, Christian, Sebastian, Tobias, Florian, Alexander, Maximilian, Lukas, Jonas, Felix,"
            "Leon, Paul, Johannes, Friedrich, Karl, Heinz, Günter, Horst, Manfred, Ralf, Jörg, Dirk, Sven, Kai,"
            "Timo, Niklas"
        ),
        female=_names(
            "Ursula, Monika, Petra, Sabine, Renate, Helga, Karin, Brigitte, Ingrid, Gabriele, Andrea, Susanne,"
            "Claudia, Stefanie, Nicole, Julia, Katharina, Anna, Laura, Lena, Lea, Hannah, Sophie, Marie, Johanna,"
            "Elisabeth, Christine, Birgit, Heike, Anja, Silke, Kerstin, Jana, Franziska, Charlotte, Greta, Mia,"
            "Emilia, Ute, Doris"
        ),
        family=_names(
            "Müller, Schmidt, Schneider, Fischer, Weber, Meyer, Wagner, Becker, Schulz, Hoffmann, Schäfer, Koch,"
            "Bauer, Richter, Klein, Wolf, Schröder, Neumann, Schwarz, Zimmermann, Braun, Krüger, Hofmann,"
            "Hartmann, Lange, Schmitt, Werner, Schmitz, Krause, Meier, Lehmann, Schmid, Schulze, Maier, Köhler,"
            "Herrmann, König, Walter, Mayer, Huber, Kaiser, Fuchs, Peters, Lang, Scholz, Möller, Weiß, Jung, Hahn,"
            "Schubert, Vogel, Friedrich, Keller, Günther, Frank, Berger, Winkler, Roth, Beck, Lorenz, Baumann,"
            "Franke, Albrecht, Schuster, Simon, Ludwig, Böhm, Winter, Kraus, Schumacher, Krämer, Vogt, Stein,"
            "Jäger, Otto, Sommer, Groß, Seidel, Heinrich, Brandt, Haas"
        ),
    ),
    "french": NameCulture(
        male=_names(
            "Jean, Pierre, Michel, André, Philippe, Alain, Jacques, Bernard, Patrick, Daniel, Nicolas, Christophe,"
            "Stéphane, Sébastien, Julien, Thomas, Alexandre, Antoine, Maxime, Guillaume, Mathieu, François,"
            "Laurent, Olivier, Éric, Frédéric, Vincent, Thierry, Hugo, Lucas, Louis, Gabriel, Arthur, Raphaël,"
            "Théo, Baptiste, Romain, Clément, Jérôme, Yves, Jean-Pierre, Jean-Luc"
        ),
        female=_names(
            "Marie, Nathalie, Isabelle, Sylvie, Catherine, Françoise, Monique, Christine, Valérie, Sandrine,"
            "Céline, Sophie, Aurélie, Camille, Julie, Léa, Manon, Chloé, Emma, Inès, Louise, Jade, Claire, Hélène,"
            "Anne, Martine, Nicole, Brigitte, Élodie, Émilie, Mathilde, Pauline, Margaux, Juliette, Océane,"
            "Virginie, Delphine, Stéphanie, Marie-Claire, Anne-Sophie"
        ),
        family=_names(
            "Martin, Bernard, Thomas, Petit, Robert, Richard, Durand, Dubois, Moreau, Laurent, Simon, Michel,"
            "Lefebvre, Leroy, Roux, David, Bertrand, Morel, Fournier, Girard, Bonnet, Dupont, Lambert, Fontaine,"
            "Rousseau, Vincent, Muller, Lefèvre, Faure, André, Mercier, Blanc, Guérin, Boyer, Garnier, Chevalier,"
            "François, Legrand, Gauthier, Garcia, Perrin, Robin, Clément, Morin, Nicolas, Henry, Roussel,"
            "Mathieu, Gautier, Masson, Marchand, Duval, Denis, Dumont, Lemaire, Noël, Dufour, Meunier, Brun,"
            "Blanchard, Giraud, Joly, Rivière, Brunet, Gaillard, Barbier, Arnaud, Gérard, Roche, Renard, Roy,"
            "Leroux, Colin, Vidal, Caron, Picard, Fabre, Aubert, Lemoine"
        ),
    ),
    "spanish": NameCulture(
        male=_names(
            "José, Antonio, Manuel, Francisco, Juan, David, Javier, Daniel, Carlos, Jesús, Alejandro, Miguel,"
            "Rafael, Pedro, Pablo, Ángel, Sergio, Fernando, Jorge, Luis, Alberto, Álvaro, Adrián, Diego, Raúl,"
            "Enrique, Ramón, Vicente, Ignacio, Andrés, Rubén, Óscar, Iván, Guillermo, Santiago, Mateo, Hugo,"
            "Martín, Lucas, Joaquín"
        ),
        female=_names(
            "María, Carmen, Ana, Isabel, Laura, Cristina, Marta, Lucía, Dolores, Pilar, Elena, Rosa, Paula, Sara,"
            "Raquel, Manuela, Mercedes, Concepción, Beatriz, Julia, Silvia, Patricia, Teresa, Nuria, Rocío, Alba,"
            "Irene, Andrea, Sofía, Martina, Guadalupe, Inmaculada, Montserrat, Esther, Noelia, Alicia, Victoria,"
            "Claudia, Lorena, Ainhoa"
        ),
        family=_names(
            "García, Rodríguez, González, Fernández, López, Martínez, Sánchez, Pérez, Gómez, Martín, Jiménez, Ruiz,"
            "Hernández, Díaz, Moreno, Muñoz, Álvarez, Romero, Alonso, Gutiérrez, Navarro, Torres, Domínguez,"
            "Vázquez, Ramos, Gil, Ramírez, Serrano, Blanco, Molina, Morales, Suárez, Ortega, Delgado, Castro,"
            "Ortiz, Rubio, Marín, Sanz, Núñez, Iglesias, Medina, Garrido, Cortés, Castillo, Santos, Lozano,"
            "Guerrero, Cano, Prieto, Méndez, Cruz, Calvo, Gallego, Vidal, León, Márquez, Herrera, Peña, Flores,"
            "Cabrera, Campos, Vega, Fuentes, Carrasco, Diez, Caballero, Reyes, Nieto, Aguilar, Pascual, Santana,"
            "Herrero, Lorenzo, Montero, Hidalgo, Giménez, Ibáñez, Ferrer, Durán"
        ),
        double_surname=0.6,
    ),
    "italian": NameCulture(
        male=_names(
            "Giuseppe, Giovanni, Antonio, Mario, Luigi, Francesco, Angelo, Vincenzo, Pietro, Salvatore, Carlo,"
            "Franco, Domenico, Bruno, Paolo, Michele, Giorgio, Aldo, Sergio, Luciano, Alessandro, Andrea, Marco,"
            "Matteo, Lorenzo, Leonardo, Riccardo, Davide, Simone, Federico, Stefano, Roberto, Massimo, Fabio,"
            "Claudio, Gianluca, Emanuele, Tommaso, Gabriele, Daniele"
        ),
        female=_names(
            "Maria, Anna, Giuseppina, Rosa, Angela, Giovanna, Teresa, Lucia, Carmela, Caterina, Francesca,"
            "Antonella, Giulia, Chiara, Sara, Martina, Alessia, Valentina, Elisa, Federica, Silvia, Paola, Laura,"
            "Roberta, Elena, Sofia, Aurora, Ginevra, Alice, Beatrice, Camilla, Arianna, Emma, Giorgia, Greta,"
            "Noemi, Serena, Monica, Daniela, Cristina"
        ),
        family=_names(
            "Rossi, Russo, Ferrari, Esposito, Bianchi, Romano, Colombo, Ricci, Marino, Greco, Bruno, Gallo,"
            "Conti, De Luca, Mancini, Costa, Giordano, Rizzo, Lombardi, Moretti, Barbieri, Fontana, Santoro,"
            "Mariani, Rinaldi, Caruso, Ferrara, Galli, Martini, Leone, Longo, Gentile, Martinelli, Vitale,"
            "Lombardo, Serra, Coppola, De Santis, D'Angelo, Marchetti, Parisi, Villa, Conte, Ferraro, Ferri,"
            "Fabbri, Bianco, Marini, Grasso, Valentini, Messina, Sala, De Angelis, Gatti, Pellegrini, Palumbo,"
            "Sanna, Farina, Rizzi, Monti, Cattaneo, Morelli, Amato, Silvestri, Mazza, Testa, Grassi, Pellegrino,"
            "Carbone, Giuliani, Benedetti, Barone, Rossetti, Caputo, Montanari, Guerra, Palmieri, Bernardi, Fiore"
        ),
    ),
    "dutch": NameCulture(
        male=_names(
            "Jan, Johannes, Cornelis, Hendrik, Willem, Pieter, Gerrit, Jacobus, Dirk, Klaas, Kees, Henk, Wim,"
            "Joost, Bram, Daan, Sem, Lucas, Levi, Finn, Thijs, Ruben, Jesse, Lars, Bas, Sander, Maarten, Jeroen,"
            "Stijn, Tim, Niels, Rutger, Wouter, Gijs, Floris, Jasper, Mark, Erik, Martijn, Roel"
        ),
        female=_names(
            "Maria, Johanna, Anna, Cornelia, Elisabeth, Wilhelmina, Geertruida, Hendrika, Emma, Julia, Tess,"
            "Sophie, Zoë, Sara, Fenna, Lotte, Eva, Anouk, Femke, Sanne, Lisa, Iris, Marloes, Esther, Ingrid,"
            "Annelies, Marieke, Saskia, Inge, Willemijn, Fleur, Noor, Roos, Sterre, Maud, Evi, Lieke, Nienke,"
            "Ilse, Mirjam"
        ),
        family=_names(
            "de Jong, Jansen, de Vries, van den Berg, van Dijk, Bakker, Janssen, Visser, Smit, Meijer, de Boer,"
            "Mulder, de Groot, Bos, Vos, Peters, Hendriks, van Leeuwen, Dekker, Brouwer, de Wit, Dijkstra, Smits,"
            "de Graaf, van der Meer, van der Linden, Kok, Jacobs, de Haan, Vermeulen, van den Heuvel,"
            "van der Veen, van den Broek, de Bruijn, de Bruin, van der Heijden, Schouten, van Beek, Willems,"
            "van Vliet, van de Ven, Hoekstra, Maas, Verhoeven, Koster, van Dam, van der Wal, Prins, Blom,"
            "Huisman, Peeters, de Lange, Kuipers, van Wijk, Postma, Kramer, Bosman, Vink, Timmermans, Groen"
        ),
    ),
    "polish": NameCulture(
        male=_names(
            "Piotr, Krzysztof, Andrzej, Tomasz, Paweł, Marcin, Michał, Marek, Grzegorz, Jan, Łukasz, Adam,"
            "Zbigniew, Jerzy, Tadeusz, Mateusz, Dariusz, Mariusz, Wojciech, Ryszard, Jakub, Kazimierz, Robert,"
            "Rafał, Jacek, Janusz, Mirosław, Maciej, Sławomir, Jarosław, Kamil, Wiesław, Roman, Władysław, Józef,"
            "Szymon, Bartosz, Damian, Aleksander, Stanisław"
        ),
        female=_names(
            "Anna, Maria, Katarzyna, Małgorzata, Agnieszka, Barbara, Ewa, Krystyna, Elżbieta, Magdalena, Joanna,"
            "Zofia, Aleksandra, Monika, Teresa, Danuta, Natalia, Julia, Karolina, Marta, Beata, Dorota, Halina,"
            "Jadwiga, Janina, Alicja, Iwona, Grażyna, Jolanta, Justyna, Paulina, Weronika, Zuzanna, Wiktoria,"
            "Hanna, Maja, Oliwia, Renata, Sylwia, Urszula"
        ),
        family=_names(
            "Nowak, Kowalski, Wiśniewski, Wójcik, Kowalczyk, Kamiński, Lewandowski, Zieliński, Szymański,"
            "Woźniak, Dąbrowski, Kozłowski, Jankowski, Mazur, Wojciechowski, Kwiatkowski, Krawczyk, Kaczmarek,"
            "Piotrowski, Grabowski, Zając, Pawłowski, Michalski, Król, Wieczorek, Jabłoński, Wróbel, Nowakowski,"
            "Majewski, Olszewski, Stępień, Malinowski, Jaworski, Adamczyk, Dudek, Nowicki, Pawlak, Górski,"
            "Witkowski, Walczak, Sikora, Baran, Rutkowski, Michalak, Szewczyk, Ostrowski, Tomaszewski, Pietrzak,"
            "Zalewski, Wróblewski"
        ),
        feminine_surnames=(("ski", "ska"), ("cki", "cka"), ("dzki", "dzka")),
    ),
    "swedish": NameCulture(
        male=_names(
            "Lars, Anders, Johan, Per, Erik, Karl, Mikael, Jan, Hans, Peter, Thomas, Nils, Lennart, Gustav,"
            "Oskar, William, Lucas, Liam, Elias, Hugo, Axel, Filip, Viktor, Emil, Isak, Olof, Sven, Bengt,"
            "Magnus, Fredrik, Henrik, Jonas, Mattias, Daniel, Björn, Stefan, Göran, Åke, Leif, Ulf"
        ),
        female=_names(
            "Anna, Eva, Maria, Karin, Kristina, Lena, Sara, Kerstin, Emma, Ingrid, Marie, Malin, Jenny,"
            "Birgitta, Inger, Annika, Linnéa, Elin, Ida, Johanna, Hanna, Sofia, Elsa, Alice, Maja, Astrid, Ebba,"
            "Wilma, Saga, Agnes, Klara, Frida, Linda, Camilla, Helena, Ulla, Margareta, Gunilla, Britt, Åsa"
        ),
        family=_names(
            "Andersson, Johansson, Karlsson, Nilsson, Eriksson, Larsson, Olsson, Persson, Svensson, Gustafsson,"
            "Pettersson, Jonsson, Jansson, Hansson, Bengtsson, Jönsson, Lindberg, Jakobsson, Magnusson,"
            "Olofsson, Lindström, Lindqvist, Lindgren, Berg, Axelsson, Bergström, Lundberg, Lind, Lundgren,"
            "Lundqvist, Mattsson, Berglund, Fredriksson, Sandberg, Henriksson, Forsberg, Sjöberg, Wallin,"
            "Engström, Eklund, Danielsson, Lundin, Håkansson, Björk, Bergman, Gunnarsson, Holm, Wikström,"
            "Samuelsson, Isaksson, Fransson, Bergqvist, Nyström, Holmberg, Arvidsson, Löfgren, Söderberg,"
            "Nyberg, Blomqvist, Claesson"
        ),
    ),
    "turkish": NameCulture(
        male=_names(
            "Mehmet, Mustafa, Ahmet, Ali, Hüseyin, Hasan, İbrahim, İsmail, Osman, Yusuf, Murat, Ömer, Ramazan,"
            "Halil, Süleyman, Abdullah, Mahmut, Salih, Kemal, Recep, Emre, Burak, Can, Cem, Deniz, Eren, Furkan,"
            "Gökhan, Hakan, Kerem, Levent, Onur, Serkan, Tolga, Uğur, Volkan, Yasin, Yiğit, Barış, Serdar"
        ),
        female=_names(
            "Fatma, Ayşe, Emine, Hatice, Zeynep, Elif, Meryem, Şerife, Zehra, Sultan, Hanife, Merve, Özlem,"
            "Yasemin, Esra, Hülya, Gül, Derya, Ebru, Sevgi, Büşra, Tuğba, Aylin, Selin, Ece, Defne, Eylül, Nur,"
            "Pınar, Seda, Songül, Gülsüm, Filiz, Dilek, Burcu, Ceren, İrem, Melek, Leyla, Nihan"
        ),
        family=_names(
            "Yılmaz, Kaya, Demir, Şahin, Çelik, Yıldız, Yıldırım, Öztürk, Aydın, Özdemir, Arslan, Doğan, Kılıç,"
            "Aslan, Çetin, Kara, Koç, Kurt, Özkan, Şimşek, Polat, Özcan, Korkmaz, Çakır, Erdoğan, Yavuz, Can,"
            "Acar, Şen, Aktaş, Güler, Yalçın, Güneş, Bozkurt, Bulut, Keskin, Ünal, Turan, Gül, Özer, Işık,"
            "Kaplan, Avcı, Sarı, Tekin, Taş, Köse, Yüksel, Ateş, Aksoy"
        ),
    ),
    "arabic": NameCulture(
        male=_names(
            "Mohammed, Ahmed, Ali, Omar, Youssef, Hassan, Hussein, Ibrahim, Khalid, Mahmoud, Mustafa, Abdullah,"
            "Karim, Tariq, Samir, Nabil, Rami, Walid, Hamza, Bilal, Faisal, Saeed, Majid, Nasser, Adel, Jamal,"
            "Fadi, Ziad, Bassam, Hisham, Amir, Anas, Ayman, Imad, Marwan, Osama, Rashid, Sami, Yasser, Zaid"
        ),
        female=_names(
            "Fatima, Aisha, Mariam, Layla, Noor, Sara, Huda, Amira, Rania, Yasmin, Salma, Hana, Leila, Nadia,"
            "Zainab, Khadija, Samira, Dina, Lina, Mona, Reem, Sana, Jamila, Rana, Farah, Hiba, Iman, Lubna,"
            "Maha, Nour, Rasha, Suha, Wafa, Yara, Zahra, Asma, Basma, Dalia, Ghada, Heba"
        ),
        family=_names(
            "Al-Sayed, Haddad, Khoury, Hamdan, Nasser, Saleh, Mansour, Aziz, Rahman, Hassan, Hussein, Ibrahim,"
            "Khalil, Youssef, Mahmoud, Mustafa, Abdallah, Al-Amin, Farouk, Habib, Jaber, Kassem, Masri, Najjar,"
            "Qureshi, Rashid, Said, Shami, Suleiman, Tamimi, Yassin, Zayed, Barakat, Darwish, Ghanem, Hakim,"
            "Issa, Karam, Lahoud, Mrad, Nassar, Othman, Qasim, Sabbagh, Taha, Attar, Bakr, El-Masri, Fakhoury,"
            "Al-Hashimi, Al-Farsi, Bitar, Chalabi, Daher, Halabi"
        ),
    ),
    "russian": NameCulture(
        male=_names(
            "Aleksandr, Sergei, Dmitri, Andrei, Aleksei, Maksim, Ivan, Mikhail, Nikolai, Vladimir, Yevgeny,"
            "Pavel, Artyom, Denis, Roman, Igor, Oleg, Viktor, Anatoly, Yuri, Konstantin, Vadim, Vitaly, Boris,"
            "Kirill, Stanislav, Gennady, Valery, Leonid, Timur, Ruslan, Anton, Fyodor, Grigory, Yaroslav, Matvei,"
            "Nikita, Ilya, Yegor, Vladislav"
        ),
        female=_names(
            "Yelena, Olga, Tatyana, Natalya, Irina, Svetlana, Anna, Mariya, Yekaterina, Lyudmila, Galina,"
            "Anastasiya, Yuliya, Oksana, Viktoriya, Darya, Polina, Kseniya, Alina, Vera, Nadezhda, Larisa,"
            "Marina, Valentina, Nina, Lyubov, Sofiya, Alyona, Yana, Kristina, Veronika, Arina, Ulyana, Zoya, Inna,"
            "Zhanna, Raisa, Tamara, Diana, Yevgeniya"
        ),
        family=_names(
            "Ivanov, Smirnov, Kuznetsov, Popov, Vasilyev, Petrov, Sokolov, Mikhailov, Novikov, Fyodorov, Morozov,"
            "Volkov, Alekseyev, Lebedev, Semyonov, Yegorov, Pavlov, Kozlov, Stepanov, Nikolayev, Orlov, Andreyev,"
            "Makarov, Nikitin, Zakharov, Zaitsev, Solovyov, Borisov, Yakovlev, Grigoryev, Romanov, Vorobyov,"
            "Sergeyev, Kuzmin, Frolov, Aleksandrov, Dmitriyev, Korolyov, Gusev, Kiselyov, Ilyin, Maksimov,"
            "Polyakov, Sorokin, Vinogradov, Kovalyov, Belov, Medvedev, Antonov, Tarasov, Zhukov, Baranov,"
            "Filippov, Komarov, Davydov, Belyayev, Gerasimov, Bogdanov, Osipov, Sidorov, Kalinin, Karpov,"
            "Lazarev, Savelyev, Tikhonov, Shcherbakov, Kovalevsky, Zhelezny"
        ),
        feminine_surnames=(
            ("sky", "skaya"),
            ("ny", "naya"),
            ("ov", "ova"),
            ("ev", "eva"),
            ("yov", "yova"),
            ("in", "ina"),
        ),
    ),
    "chinese": NameCulture(
        male=_names(
            "Wei, Jun, Lei, Qiang, Ping, Hua, Tao, Ming, Chao, Bo, Gang, Hao, Jie, Kai, Long, Peng, Yong, Xiaoming,"
            "Jianguo, Zhiwei, Haoran, Yuxuan, Yichen, Zihao, Jianhua, Guoqiang, Wenbin, Dong, Feng, Hui, Liang,"
            "Ning, Rui, Shuai, Xin, Yang, Zhen, Kang, Jiahao, Junjie"
        ),
        female=_names(
            "Fang, Min, Jing, Li, Yan, Ying, Xiu, Mei, Na, Lan, Juan, Qing, Xia, Yun, Ling, Jiayi, Shu, Tingting,"
            "Xue, Wenjing, Lili, Yanping, Guiying, Xiuying, Jinhua, Xiaoling, Zihan, Yuting, Hong, Hui, Dan, Jie,"
            "Lin, Ping, Qian, Rong, Shan, Wen, Xiaomei, Yue"
        ),
        family=_names(
            "Wang, Li, Zhang, Liu, Chen, Yang, Huang, Zhao, Wu, Zhou, Xu, Sun, Ma, Zhu, Hu, Guo, He, Gao, Lin, Luo,"
            "Zheng, Liang, Xie, Song, Tang, Han, Feng, Deng, Cao, Peng, Zeng, Xiao, Tian, Dong, Pan, Yuan, Cai,"
            "Jiang, Yu, Du, Ye, Cheng, Wei, Su, Lu, Ding, Ren, Shen, Yao, Cui, Zhong, Tan, Fan, Wong, Chan,"
            "Leung, Cheung, Lau, Ng, Ho, Tsang"
        ),
    ),
    "indian": NameCulture(
        male=_names(
            "Rahul, Amit, Rajesh, Sanjay, Vikram, Arjun, Rohan, Anil, Sunil, Ravi, Suresh, Ramesh, Vijay, Ajay,"
            "Deepak, Manoj, Arun, Kiran, Nikhil, Pradeep, Aditya, Karan, Varun, Gaurav, Harish, Mahesh, Naveen,"
            "Prakash, Rajiv, Sandeep, Sachin, Vivek, Yash, Aarav, Vihaan, Ishaan, Krishna, Siddharth, Abhishek,"
            "Manish"
        ),
        female=_names(
            "Priya, Anjali, Sunita, Pooja, Neha, Kavita, Deepa, Anita, Sneha, Divya, Lakshmi, Meena, Rekha,"
            "Shalini, Swati, Nisha, Asha, Geeta, Jyoti, Lata, Madhu, Nandini, Pallavi, Radha, Rani, Seema,"
            "Shruti, Usha, Vandana, Aanya, Diya, Isha, Kavya, Riya, Saanvi, Aditi, Ananya, Shreya, Tanvi, Komal"
        ),
        family=_names(
            "Sharma, Verma, Gupta, Singh, Kumar, Patel, Shah, Mehta, Joshi, Reddy, Rao, Nair, Iyer, Menon, Pillai,"
            "Das, Banerjee, Chatterjee, Mukherjee, Bose, Ghosh, Sen, Kapoor, Khanna, Malhotra, Chopra, Bhatia,"
            "Agarwal, Jain, Desai, Naidu, Kulkarni, Patil, Deshpande, Chauhan, Yadav, Mishra, Pandey, Tiwari,"
            "Saxena, Srivastava, Trivedi, Bhatt, Pillay, Krishnan, Subramanian, Venkatesh, Gill, Sandhu, Dhillon"
        ),
    ),
    "nigerian": NameCulture(
        male=_names(
            "Chinedu, Emeka, Obinna, Chukwuemeka, Ikenna, Nnamdi, Oluwaseun, Olumide, Adebayo, Babatunde,"
            "Oluwafemi, Tunde, Segun, Kunle, Yusuf, Ibrahim, Abubakar, Musa, Aliyu, Suleiman, Uche, Kelechi,"
            "Chidi, Ifeanyi, Tobenna, Femi, Dayo, Kayode, Gbenga, Sola, Tope, Biodun, Chijioke, Ebuka, Eze, Obi,"
            "Osagie, Efosa, Ayodele, Ademola"
        ),
        female=_names(
            "Ngozi, Chioma, Adaeze, Amaka, Nneka, Ifeoma, Chiamaka, Uchenna, Funmilayo, Folake, Yetunde, Bukola,"
            "Adunni, Titilayo, Omolara, Oluwakemi, Aisha, Zainab, Hauwa, Fatima, Amina, Halima, Blessing, Grace,"
            "Precious, Favour, Chinwe, Ebere, Nkechi, Obiageli, Temitope, Kemi, Bisi, Ronke, Toyin, Simisola,"
            "Damilola, Ifunanya, Ogechi, Adanna"
        ),
        family=_names(
            "Okafor, Okonkwo, Eze, Nwosu, Obi, Chukwu, Nnadi, Okeke, Onyeka, Uzor, Adeyemi, Adebayo, Ogunleye,"
            "Olawale, Oyelaran, Afolabi, Balogun, Bello, Abubakar, Ibrahim, Mohammed, Musa, Lawal, Suleiman,"
            "Yusuf, Danjuma, Okoro, Ogbu, Igwe, Nwachukwu, Ojo, Oladipo, Adeleke, Akinola, Oyewole, Fashola, Oni,"
            "Ayodele, Akande, Alabi, Ajayi, Osaghae, Ekwueme, Anyanwu, Emenike, Nwankwo, Ugwu"
        ),
    ),
}

# Given name -> short forms people and clerks use for it.
NICKNAMES: dict[str, tuple[str, ...]] = {
    # English
    "William": ("Bill", "Will", "Billy", "Liam"), "Robert": ("Bob", "Rob", "Bobby", "Bert"),
    "Richard": ("Dick", "Rick", "Rich"), "James": ("Jim", "Jimmy", "Jamie"), "John": ("Jack", "Johnny"),
    "Michael": ("Mike", "Mick", "Mikey"), "Elizabeth": ("Liz", "Beth", "Betty", "Lizzie", "Eliza"),
    "Margaret": ("Maggie", "Peggy", "Meg"), "Katherine": ("Kate", "Kathy", "Katie"), "Thomas": ("Tom", "Tommy"),
    "Christopher": ("Chris", "Kit"), "Jennifer": ("Jen", "Jenny"), "Alexander": ("Alex", "Sasha", "Xander"),
    "Daniel": ("Dan", "Danny", "Dani"), "Joseph": ("Joe", "Joey"), "Edward": ("Ed", "Ted", "Eddie", "Ned"),
    "Anthony": ("Tony",), "Charles": ("Charlie", "Chuck"), "Patricia": ("Pat", "Patty", "Trish"),
    "Susan": ("Sue", "Susie"), "Rebecca": ("Becky", "Becca"), "Samuel": ("Sam", "Sammy"),
    "Benjamin": ("Ben", "Benny"), "Matthew": ("Matt",), "Nicholas": ("Nick", "Nicky"), "Andrew": ("Andy", "Drew"),
    "Jonathan": ("Jon", "Jonny"), "Victoria": ("Vicky", "Tori"), "Deborah": ("Debbie", "Deb"),
    "Stephen": ("Steve",), "Steven": ("Steve",), "Timothy": ("Tim",), "Kenneth": ("Ken", "Kenny"),
    "Ronald": ("Ron", "Ronnie"), "Jeffrey": ("Jeff",), "Gareth": ("Gaz",), "Abigail": ("Abby",),
    "Eleanor": ("Ellie", "Nell"), "Amanda": ("Mandy",), "Kimberly": ("Kim",), "Jessica": ("Jess",),
    "Barbara": ("Barb", "Babs"), "Dorothy": ("Dot", "Dolly"), "Peter": ("Pete",), "Henry": ("Harry", "Hank"),
    "Jacob": ("Jake",), "Oliver": ("Ollie",), "Callum": ("Cal",), "Stuart": ("Stu",), "Patrick": ("Pat", "Paddy"),
    "Joshua": ("Josh",), "Gregory": ("Greg",), "Sarah": ("Sally",), "Mary": ("Molly", "Polly", "Mae"),
    "Charlotte": ("Charlie", "Lottie"), "Amelia": ("Millie",), "Olivia": ("Liv", "Livvy"), "Emily": ("Em", "Emmy"),
    "Rachel": ("Rach",), "Natalie": ("Nat",), "Joanne": ("Jo",), "Helen": ("Nell",), "Sandra": ("Sandy",),
    "Michelle": ("Shelly",), "Melissa": ("Mel", "Missy"), "Stephanie": ("Steph",), "Gemma": ("Gem",),
    "Carol": ("Caz",),
    # German, Dutch, Scandinavian
    "Johannes": ("Hans", "Jan", "Hannes"), "Wolfgang": ("Wolf",), "Friedrich": ("Fritz",),
    "Katharina": ("Kathi", "Katja"), "Maximilian": ("Max",), "Christian": ("Chris",), "Matthias": ("Matze",),
    "Tobias": ("Tobi",), "Sebastian": ("Basti",), "Franziska": ("Franzi",), "Stefanie": ("Steffi",),
    "Susanne": ("Susi",), "Andreas": ("Andi",), "Markus": ("Mark",), "Florian": ("Flo",), "Gabriele": ("Gabi",),
    "Christine": ("Tina", "Chrissi"), "Johanna": ("Hanna", "Jo"), "Brigitte": ("Gitte",),
    "Elisabeth": ("Lisa", "Sissi", "Els", "Lies"), "Heinrich": ("Heinz",), "Cornelis": ("Kees", "Cor"),
    "Wilhelmina": ("Mina", "Wil", "Mien"), "Hendrik": ("Henk", "Rik"), "Jacobus": ("Koos", "Jaap"),
    "Willem": ("Wim", "Pim"), "Geertruida": ("Truus", "Trudy"), "Pieter": ("Piet",), "Gerrit": ("Gert",),
    "Maarten": ("Mart",), "Kristina": ("Stina",), "Margareta": ("Greta", "Maggan"), "Mikael": ("Micke",),
    "Henrik": ("Henke",), "Magnus": ("Mange",), "Lars": ("Lasse",), "Per": ("Pelle",), "Nils": ("Nisse",),
    "Gustav": ("Gurra", "Gösta"), "Karl": ("Kalle",), "Olof": ("Olle",), "Jan": ("Janne",), "Hans": ("Hasse",),
    "Mattias": ("Matte",), "Birgitta": ("Bittan", "Gittan"), "Annika": ("Anki",), "Fredrik": ("Freddie",),
    # French, Spanish, Italian, Portuguese
    "Nicolas": ("Nico",), "Frédéric": ("Fred",), "Jean-Pierre": ("JP",), "Jean-Luc": ("JL",),
    "Alexandre": ("Alex",), "Guillaume": ("Will",), "Sébastien": ("Seb",), "Stéphane": ("Steph",),
    "Mathieu": ("Matt",), "Philippe": ("Phil",), "Maxime": ("Max",), "Catherine": ("Cathy",),
    "Isabelle": ("Isa",), "Nathalie": ("Nath",), "Valérie": ("Val",), "Françoise": ("Fanfan",),
    "Francisco": ("Paco", "Pancho", "Curro"), "José": ("Pepe",), "Manuel": ("Manolo",), "Antonio": ("Toni", "Toño", "Nino"),
    "Alejandro": ("Álex",), "Javier": ("Javi",), "Guillermo": ("Guille", "Memo"), "Rafael": ("Rafa",),
    "Fernando": ("Nando", "Fer"), "Ignacio": ("Nacho",), "Jesús": ("Chus", "Chuy"), "Enrique": ("Quique",),
    "Santiago": ("Santi",), "Dolores": ("Lola",), "Concepción": ("Concha",), "Guadalupe": ("Lupe",),
    "María": ("Mari",), "Isabel": ("Isa", "Chabela"), "Cristina": ("Cris",), "Mercedes": ("Merche",),
    "Pilar": ("Pili",), "Teresa": ("Tere",), "Montserrat": ("Montse",), "Inmaculada": ("Inma",),
    "Beatriz": ("Bea",), "Giuseppe": ("Peppe", "Beppe", "Pino"), "Giovanni": ("Gianni", "Nino"),
    "Francesco": ("Franco", "Cecco"), "Alessandro": ("Sandro", "Ale"), "Salvatore": ("Totò", "Turi"),
    "Vincenzo": ("Enzo",), "Domenico": ("Mimmo",), "Massimo": ("Max",), "Federico": ("Fede",),
    "Tommaso": ("Tommy", "Maso"), "Giuseppina": ("Pina",), "Francesca": ("Fra",), "Valentina": ("Vale",),
    # Polish, Russian
    "Aleksander": ("Olek",), "Małgorzata": ("Gosia", "Małgosia"), "Katarzyna": ("Kasia",), "Tomasz": ("Tomek",),
    "Wojciech": ("Wojtek",), "Krzysztof": ("Krzysiek",), "Magdalena": ("Magda",), "Stanisław": ("Staszek",),
    "Aleksandra": ("Ola",), "Agnieszka": ("Aga",), "Joanna": ("Asia",), "Grzegorz": ("Grzesiek",),
    "Aleksandr": ("Sasha", "Sanya", "Shura"), "Dmitri": ("Dima", "Mitya"), "Mikhail": ("Misha",),
    "Yekaterina": ("Katya",), "Yelena": ("Lena",), "Vladimir": ("Volodya", "Vova"), "Nikolai": ("Kolya",),
    "Anastasiya": ("Nastya",), "Ivan": ("Vanya",), "Natalya": ("Natasha",), "Sergei": ("Seryozha",),
    "Aleksei": ("Alyosha", "Lyosha"), "Tatyana": ("Tanya",), "Mariya": ("Masha",), "Pavel": ("Pasha",),
    "Svetlana": ("Sveta",), "Yevgeny": ("Zhenya",), "Lyudmila": ("Lyuda", "Mila"), "Konstantin": ("Kostya",),
    "Yuri": ("Yura",), "Olga": ("Olya",), "Irina": ("Ira",), "Darya": ("Dasha",), "Kseniya": ("Ksyusha",),
    "Nadezhda": ("Nadya",), "Lyubov": ("Lyuba",), "Viktoriya": ("Vika",), "Anna": ("Anya", "Ania", "Anki"),
    # Turkish, Arabic, Indian, Nigerian
    "Mehmet": ("Memo",), "Mustafa": ("Musti",), "Hüseyin": ("Hüso",), "Mohammed": ("Mo", "Hamoudi"),
    "Abdullah": ("Abdul", "Abdo"), "Youssef": ("Joe",), "Siddharth": ("Sid",), "Abhishek": ("Abhi",),
    "Krishna": ("Kris",), "Aditya": ("Adi",), "Nikhil": ("Nik",), "Vikram": ("Vik", "Vicky"), "Rajesh": ("Raj",),
    "Sanjay": ("Sanju",), "Lakshmi": ("Lucky",), "Oluwaseun": ("Seun",), "Babatunde": ("Tunde",),
    "Oluwafemi": ("Femi",), "Chukwuemeka": ("Emeka",), "Oluwakemi": ("Kemi",), "Funmilayo": ("Funmi",),
    "Temitope": ("Tope", "Temi"), "Olumide": ("Mide",), "Ayodele": ("Ayo",), "Ifeanyi": ("Ify",),
    "Adebayo": ("Bayo",), "Abubakar": ("Abu",), "Damilola": ("Dami",), "Simisola": ("Simi",), "Adaeze": ("Ada",),
    "Chiamaka": ("Amaka",), "Nkechi": ("Kechi",), "Obiageli": ("Oby",),
}  # fmt: skip

# Spellings of the same name from different transliterations or registers.
SPELLINGS: dict[str, tuple[str, ...]] = {
    "Mohammed": ("Muhammad", "Mohamed", "Mohammad", "Mohamad"), "Youssef": ("Yousef", "Yusuf", "Youssif"),
    "Hussein": ("Husain", "Hussain", "Husein"), "Abdullah": ("Abdallah", "Abdulla"), "Osama": ("Usama",),
    "Omar": ("Umar",), "Aisha": ("Aysha", "Ayesha", "Aicha"), "Fatima": ("Fatma", "Fatimah"),
    "Khalid": ("Khaled",), "Saeed": ("Said", "Sayed"), "Mahmoud": ("Mahmud",), "Hassan": ("Hasan",),
    "Tariq": ("Tarek", "Tarik"), "Layla": ("Leila", "Laila"), "Yasmin": ("Yasmine", "Jasmin"),
    "Zainab": ("Zaynab", "Zeynab"), "Mariam": ("Maryam", "Miriam"), "Noor": ("Nur", "Nour"),
    "Aleksandr": ("Alexander", "Alexandr", "Aleksander"), "Sergei": ("Sergey", "Serguei"),
    "Dmitri": ("Dmitry", "Dmitriy"), "Andrei": ("Andrey",), "Aleksei": ("Alexei", "Alexey", "Aleksey"),
    "Yevgeny": ("Evgeny", "Evgeniy", "Yevgeniy"), "Yuri": ("Yury", "Iurii", "Jurij"), "Artyom": ("Artem",),
    "Fyodor": ("Fedor", "Feodor"), "Yelena": ("Elena",), "Natalya": ("Natalia", "Nataliya"),
    "Tatyana": ("Tatiana",), "Yekaterina": ("Ekaterina", "Katerina"), "Yuliya": ("Julia", "Yulia"),
    "Mariya": ("Maria",), "Anastasiya": ("Anastasia",), "Kseniya": ("Ksenia", "Xenia"),
    "Viktoriya": ("Victoria",), "Darya": ("Daria",), "Sofiya": ("Sofia",), "Alyona": ("Alena",),
    "Yegor": ("Egor",), "Matvei": ("Matvey",), "Nikolai": ("Nikolay",), "Anatoly": ("Anatoliy",),
    "Vitaly": ("Vitaliy",), "Gennady": ("Gennadiy",), "Valery": ("Valeriy",), "Grigory": ("Grigoriy",),
    "Mehmet": ("Mehmed", "Mehmat"), "Hüseyin": ("Huseyin", "Hussein"), "Ömer": ("Omer", "Omar"),
    "Jürgen": ("Juergen", "Jurgen"), "Günter": ("Guenter", "Gunther"), "Jörg": ("Joerg", "Jorg"),
    "Zoë": ("Zoe",), "Chukwuemeka": ("Chukwu-Emeka",), "Yusuf": ("Yousuf", "Youssef"),
    "Catherine": ("Katherine", "Kathryn"), "Stephen": ("Steven",), "Sara": ("Sarah",), "Sarah": ("Sara",),
    "Jeffrey": ("Geoffrey",), "Philippe": ("Phillippe",), "Sofia": ("Sophia",), "Sophie": ("Sofie",),
}  # fmt: skip

# Transliteration rules tried in order when a surname has no listed spelling.
SPELLING_RULES = (
    ("yev", "ev"), ("yov", "ev"), ("yo", "e"), ("Ye", "E"), ("ye", "e"), ("iy", "y"), ("ks", "x"),
    ("Al-", "Al "), ("El-", "El "), ("Al-", "El-"), ("kh", "h"), ("ou", "u"), ("ee", "i"), ("sch", "sh"),
    ("ph", "f"), ("ck", "k"), ("ij", "y"), ("oe", "u"), ("w", "v"), ("c", "k"),
)  # fmt: skip

ASCII_FOLD = {
    "ß": "ss", "ł": "l", "Ł": "L", "ı": "i", "İ": "I", "ø": "o", "Ø": "O", "æ": "ae", "Æ": "AE", "đ": "d",
    "œ": "oe", "Œ": "OE",
}  # fmt: skip
GERMAN_FOLD = {"ä": "ae", "ö": "oe", "ü": "ue", "Ä": "Ae", "Ö": "Oe", "Ü": "Ue", "ß": "ss"}


@dataclass(frozen=True)
class Bank:
    name: str
    code: str  # national bank code used at the start of the BBAN; "?" is a random letter


@dataclass(frozen=True)
class CountryProfile:
    """How addresses, phones, ids and company names look in one country."""

    code: str
    name: str
    cultures: tuple[tuple[str, float], ...]
    cities: tuple[tuple[str, str], ...]  # (city, postal pattern: {lo-hi} range, # digit, @ letter, | alternatives)
    streets: tuple[str, ...]
    street_format: str  # "{n}" house number, "{s}" street name
    unit_format: str  # flat or apartment, "{u}" unit number, "{l}" letter; empty for none
    abbreviations: tuple[tuple[str, str], ...]
    calling_code: str
    trunk: str
    mobile: tuple[str, ...]
    landline: tuple[str, ...]
    nsn_length: int
    currency: str
    banks: tuple[Bank, ...]
    bban_length: int  # 0: no IBAN, accounts use account_number and routing_number
    email_domains: tuple[str, ...]
    web_suffix: str
    org_suffixes: tuple[str, ...]
    local_business_words: tuple[tuple[str, str], ...]  # (word, industry)
    region_codes: tuple[str, ...] = ()


def _cities(text: str) -> tuple[tuple[str, str], ...]:
    pairs = []
    for chunk in text.split(";"):
        city, _, pattern = chunk.partition("=")
        pairs.append((city.strip(), pattern.strip()))
    return tuple(pairs)


COUNTRIES: dict[str, CountryProfile] = {
    "GB": CountryProfile(
        code="GB", name="United Kingdom",
        cultures=(("english", 0.74), ("indian", 0.08), ("arabic", 0.04), ("polish", 0.04), ("nigerian", 0.05),
                  ("chinese", 0.03), ("italian", 0.02)),
        cities=_cities(
            "London=SW{1-20} #@@|E{1-18} #@@|N{1-22} #@@|NW{1-11} #@@|SE{1-28} #@@|W{1-14} #@@|EC{1-4}@ #@@;"
            "Manchester=M{1-50} #@@;Birmingham=B{1-99} #@@;Leeds=LS{1-29} #@@;Glasgow=G{1-84} #@@;"
            "Edinburgh=EH{1-17} #@@;Bristol=BS{1-16} #@@;Liverpool=L{1-38} #@@;Cardiff=CF{10-24} #@@;"
            "Belfast=BT{1-17} #@@;Sheffield=S{1-36} #@@;Nottingham=NG{1-17} #@@"
        ),
        streets=_names(
            "High Street, Station Road, Church Lane, Victoria Road, Green Lane, Manor Road, Park Avenue,"
            "Queen's Road, Mill Lane, King Street, Church Street, London Road, The Crescent, Albert Road,"
            "New Road, School Lane, York Road, Grange Road, Kingsway, Elm Grove, Chestnut Drive, Windsor Place"
        ),
        street_format="{n} {s}", unit_format="Flat {u}, ",
        abbreviations=(("Street", "St"), ("Road", "Rd"), ("Avenue", "Ave"), ("Lane", "Ln"), ("Drive", "Dr"),
                       ("Place", "Pl"), ("Crescent", "Cres")),
        calling_code="44", trunk="0", mobile=("71", "73", "74", "75", "77", "78", "79"),
        landline=("20", "121", "161", "113", "141", "131", "117", "151", "29", "28"), nsn_length=10,
        currency="GBP",
        banks=(Bank("Barclays", "BARC"), Bank("HSBC UK", "HBUK"), Bank("NatWest", "NWBK"),
               Bank("Lloyds Bank", "LOYD"), Bank("Santander UK", "ABBY"), Bank("Monzo", "MONZ"),
               Bank("Starling Bank", "SRLG")),
        bban_length=18,
        email_domains=("gmail.com", "outlook.com", "yahoo.co.uk", "btinternet.com", "hotmail.co.uk", "icloud.com"),
        web_suffix="co.uk", org_suffixes=("Ltd", "Ltd", "Ltd", "Limited", "PLC", "LLP"),
        local_business_words=(),
    ),
    "US": CountryProfile(
        code="US", name="United States",
        cultures=(("english", 0.64), ("spanish", 0.15), ("chinese", 0.05), ("indian", 0.05), ("nigerian", 0.04),
                  ("arabic", 0.03), ("russian", 0.02), ("italian", 0.02)),
        cities=_cities(
            "New York={10001-10292};Los Angeles={90001-90089};Chicago={60601-60661};Houston={77001-77099};"
            "Miami={33101-33299};Boston={02108-02137};San Francisco={94102-94188};Seattle={98101-98199};"
            "Washington={20001-20099};Atlanta={30301-30399};Dallas={75201-75398};Las Vegas={89101-89199}"
        ),
        streets=_names(
            "Main Street, Oak Avenue, Maple Street, Washington Avenue, Park Avenue, Elm Street, 2nd Street,"
            "Lake Drive, Sunset Boulevard, Pine Street, Cedar Lane, Lincoln Avenue, Madison Avenue, Hill Street,"
            "Church Street, Jefferson Street, Highland Avenue, Broadway, River Road, Spring Street"
        ),
        street_format="{n} {s}", unit_format=" Apt {u}{l}",
        abbreviations=(("Street", "St"), ("Avenue", "Ave"), ("Boulevard", "Blvd"), ("Drive", "Dr"),
                       ("Lane", "Ln"), ("Road", "Rd")),
        calling_code="1", trunk="",
        mobile=("212", "646", "718", "917", "310", "213", "323", "312", "773", "713", "832", "305", "786", "617",
                "415", "206", "202", "404", "214", "702"),
        landline=("212", "310", "312", "713", "305", "617", "415", "206", "202", "404"), nsn_length=10,
        currency="USD",
        banks=(Bank("JPMorgan Chase", "021000021"), Bank("Bank of America", "026009593"),
               Bank("Wells Fargo", "121000248"), Bank("Citibank", "021000089"), Bank("U.S. Bank", "091000022"),
               Bank("PNC Bank", "043000096")),
        bban_length=0,
        email_domains=("gmail.com", "yahoo.com", "outlook.com", "aol.com", "icloud.com", "comcast.net"),
        web_suffix="com", org_suffixes=("Inc.", "Inc.", "LLC", "LLC", "Corp."),
        local_business_words=(),
        region_codes=("NY", "CA", "IL", "TX", "FL", "MA", "CA", "WA", "DC", "GA", "TX", "NV"),
    ),
    "DE": CountryProfile(
        code="DE", name="Germany",
        cultures=(("german", 0.78), ("turkish", 0.08), ("polish", 0.04), ("russian", 0.04), ("arabic", 0.03),
                  ("italian", 0.03)),
        cities=_cities(
            "Berlin={10115-14199};Hamburg={20095-22769};München={80331-81929};Köln={50667-51149};"
            "Frankfurt am Main={60306-60599};Stuttgart={70173-70629};Düsseldorf={40210-40629};"
            "Leipzig={04103-04357};Dortmund={44135-44388};Bremen={28195-28779};Dresden={01067-01328};"
            "Hannover={30159-30669}"
        ),
        streets=_names(
            "Hauptstraße, Bahnhofstraße, Schulstraße, Gartenstraße, Dorfstraße, Bergstraße, Lindenstraße,"
            "Goethestraße, Schillerstraße, Friedrichstraße, Kirchstraße, Waldstraße, Ringstraße, Am Markt,"
            "Mühlenweg, Rosenweg, Feldstraße, Mozartstraße, Kantstraße, Poststraße"
        ),
        street_format="{s} {n}", unit_format="",
        abbreviations=(("straße", "str."), ("Straße", "Str."), ("weg", "wg.")),
        calling_code="49", trunk="0",
        mobile=("151", "152", "157", "159", "160", "162", "163", "170", "171", "172", "173", "174", "175", "176",
                "177", "178", "179"),
        landline=("30", "40", "89", "221", "69", "711", "211", "341", "231", "421"), nsn_length=11,
        currency="EUR",
        banks=(Bank("Deutsche Bank", "10070000"), Bank("Commerzbank", "10040000"),
               Bank("Sparkasse KölnBonn", "37050198"), Bank("Postbank", "10010010"), Bank("ING-DiBa", "50010517"),
               Bank("N26", "10011001"), Bank("DZ Bank", "50060400")),
        bban_length=18,
        email_domains=("gmx.de", "web.de", "gmail.com", "t-online.de", "outlook.de", "posteo.de"),
        web_suffix="de", org_suffixes=("GmbH", "GmbH", "GmbH", "AG", "KG", "GmbH & Co. KG"),
        local_business_words=(("Handels", "import/export"), ("Logistik", "logistics"), ("Immobilien", "real estate"),
                              ("Bau", "construction"), ("Beteiligungs", "holding"), ("Maschinenbau", "manufacturing"),
                              ("Energie", "energy"), ("Verwaltungs", "holding")),
    ),
    "FR": CountryProfile(
        code="FR", name="France",
        cultures=(("french", 0.80), ("arabic", 0.10), ("nigerian", 0.03), ("spanish", 0.03), ("italian", 0.02),
                  ("chinese", 0.02)),
        cities=_cities(
            "Paris={75001-75020};Marseille={13001-13016};Lyon={69001-69009};Toulouse={31000-31500};"
            "Nice={06000-06300};Nantes={44000-44300};Strasbourg={67000-67200};Bordeaux={33000-33800};"
            "Lille={59000-59800};Montpellier={34000-34090};Rennes={35000-35200}"
        ),
        streets=_names(
            "rue de la République, avenue Victor Hugo, boulevard Voltaire, rue Jean Jaurès, rue de la Paix,"
            "place de la Mairie, rue du Moulin, rue de l'Église, avenue de la Gare, rue Pasteur, rue Nationale,"
            "boulevard Gambetta, rue des Écoles, avenue Foch, rue Saint-Honoré, quai des Orfèvres, rue Lafayette"
        ),
        street_format="{n} {s}", unit_format="",
        abbreviations=(("avenue", "av."), ("boulevard", "bd"), ("place", "pl."), ("rue", "r.")),
        calling_code="33", trunk="0", mobile=("6", "7"), landline=("1", "2", "3", "4", "5"), nsn_length=9,
        currency="EUR",
        banks=(Bank("BNP Paribas", "30004"), Bank("Société Générale", "30003"), Bank("Crédit Agricole", "30006"),
               Bank("Crédit Mutuel", "10278"), Bank("La Banque Postale", "20041"), Bank("LCL", "30002")),
        bban_length=23,
        email_domains=("orange.fr", "free.fr", "gmail.com", "laposte.net", "sfr.fr", "wanadoo.fr"),
        web_suffix="fr", org_suffixes=("SAS", "SAS", "SARL", "SA"),
        local_business_words=(("Immobilier", "real estate"), ("Transports", "logistics"), ("Conseil", "consulting"),
                              ("Négoce", "import/export"), ("Bâtiment", "construction"), ("Industries", "manufacturing")),
    ),
    "ES": CountryProfile(
        code="ES", name="Spain",
        cultures=(("spanish", 0.88), ("arabic", 0.05), ("english", 0.03), ("chinese", 0.02), ("italian", 0.02)),
        cities=_cities(
            "Madrid={28001-28055};Barcelona={08001-08042};Valencia={46001-46026};Sevilla={41001-41020};"
            "Zaragoza={50001-50021};Málaga={29001-29018};Bilbao={48001-48015};Alicante={03001-03016};"
            "Palma={07001-07015};Murcia={30001-30012}"
        ),
        streets=_names(
            "Calle Mayor, Avenida de la Constitución, Calle Real, Gran Vía, Calle del Sol, Plaza de España,"
            "Calle de Alcalá, Paseo de la Castellana, Calle Nueva, Avenida de Andalucía, Calle San Juan,"
            "Calle de la Iglesia, Calle del Carmen, Rambla de Catalunya, Calle Serrano, Avenida del Puerto"
        ),
        street_format="{s}, {n}", unit_format=", {u}º {l}",
        abbreviations=(("Calle ", "C/ "), ("Avenida", "Avda."), ("Plaza", "Pl."), ("Paseo", "Pº")),
        calling_code="34", trunk="", mobile=("6", "7"), landline=("91", "93", "96", "95", "976", "952", "94"),
        nsn_length=9, currency="EUR",
        banks=(Bank("Banco Santander", "0049"), Bank("BBVA", "0182"), Bank("CaixaBank", "2100"),
               Bank("Banco Sabadell", "0081"), Bank("Bankinter", "0128"), Bank("Unicaja", "2103")),
        bban_length=20,
        email_domains=("gmail.com", "hotmail.es", "yahoo.es", "telefonica.net", "outlook.es"),
        web_suffix="es", org_suffixes=("S.L.", "S.L.", "S.A."),
        local_business_words=(("Inversiones", "holding"), ("Construcciones", "construction"),
                              ("Transportes", "logistics"), ("Inmobiliaria", "real estate"),
                              ("Servicios", "consulting"), ("Comercial", "import/export")),
    ),
    "IT": CountryProfile(
        code="IT", name="Italy",
        cultures=(("italian", 0.90), ("arabic", 0.03), ("chinese", 0.03), ("spanish", 0.02), ("nigerian", 0.02)),
        cities=_cities(
            "Roma={00118-00199};Milano={20121-20162};Napoli={80121-80147};Torino={10121-10156};"
            "Palermo={90121-90151};Genova={16121-16167};Bologna={40121-40141};Firenze={50121-50145};"
            "Bari={70121-70132};Venezia={30121-30176}"
        ),
        streets=_names(
            "Via Roma, Via Garibaldi, Corso Italia, Via Dante, Piazza Cavour, Via Mazzini, Via Verdi,"
            "Corso Vittorio Emanuele, Via Nazionale, Via XX Settembre, Via Marconi, Via della Repubblica,"
            "Piazza del Duomo, Via San Giovanni, Viale Europa, Via Cavour"
        ),
        street_format="{s} {n}", unit_format="",
        abbreviations=(("Via ", "V. "), ("Piazza", "P.za"), ("Corso", "C.so"), ("Viale", "V.le")),
        calling_code="39", trunk="",
        mobile=("320", "328", "329", "333", "335", "338", "340", "347", "348", "349", "360", "366", "380", "388"),
        landline=("06", "02", "081", "011", "091", "010", "051", "055"), nsn_length=10, currency="EUR",
        banks=(Bank("Intesa Sanpaolo", "?0306909"), Bank("UniCredit", "?0200805"), Bank("Banco BPM", "?0503401"),
               Bank("BPER Banca", "?0538712"), Bank("Monte dei Paschi di Siena", "?0103002")),
        bban_length=23,
        email_domains=("libero.it", "gmail.com", "virgilio.it", "alice.it", "tiscali.it", "hotmail.it"),
        web_suffix="it", org_suffixes=("S.r.l.", "S.r.l.", "S.p.A."),
        local_business_words=(("Costruzioni", "construction"), ("Trasporti", "logistics"),
                              ("Immobiliare", "real estate"), ("Servizi", "consulting"), ("Commerciale", "import/export")),
    ),
    "NL": CountryProfile(
        code="NL", name="Netherlands",
        cultures=(("dutch", 0.80), ("turkish", 0.06), ("arabic", 0.06), ("german", 0.03), ("english", 0.03),
                  ("indian", 0.02)),
        cities=_cities(
            "Amsterdam={1011-1109} @@;Rotterdam={3011-3089} @@;Den Haag={2491-2599} @@;Utrecht={3511-3585} @@;"
            "Eindhoven={5611-5658} @@;Groningen={9711-9747} @@;Tilburg={5011-5049} @@;Breda={4811-4839} @@"
        ),
        streets=_names(
            "Kerkstraat, Dorpsstraat, Molenweg, Stationsweg, Schoolstraat, Julianastraat, Wilhelminastraat,"
            "Beatrixstraat, Kastanjelaan, Nieuwstraat, Hoofdstraat, Parallelweg, Prinsengracht, Keizersgracht"
        ),
        street_format="{s} {n}", unit_format="",
        abbreviations=(("straat", "str."), ("laan", "ln."), ("weg", "wg.")),
        calling_code="31", trunk="0", mobile=("6",), landline=("20", "10", "70", "30", "40"), nsn_length=9,
        currency="EUR",
        banks=(Bank("ING", "INGB"), Bank("ABN AMRO", "ABNA"), Bank("Rabobank", "RABO"), Bank("Triodos", "TRIO"),
               Bank("bunq", "BUNQ"), Bank("SNS", "SNSB")),
        bban_length=14,
        email_domains=("ziggo.nl", "kpnmail.nl", "gmail.com", "hotmail.nl", "xs4all.nl", "outlook.com"),
        web_suffix="nl", org_suffixes=("B.V.", "B.V.", "B.V.", "N.V."),
        local_business_words=(("Holding", "holding"), ("Beheer", "holding"), ("Vastgoed", "real estate"),
                              ("Transport", "logistics"), ("Installatietechniek", "construction")),
    ),
    "PL": CountryProfile(
        code="PL", name="Poland",
        cultures=(("polish", 0.93), ("russian", 0.04), ("german", 0.02), ("english", 0.01)),
        cities=_cities(
            "Warszawa=0{0-4}-###;Kraków=3{0-1}-###;Łódź=9{0-4}-###;Wrocław=5{0-4}-###;Poznań=6{0-1}-###;"
            "Gdańsk=80-###;Szczecin=7{0-1}-###;Lublin=20-###"
        ),
        streets=_names(
            "Polna, Leśna, Słoneczna, Krótka, Szkolna, Ogrodowa, Lipowa, Mickiewicza, Kościuszki, Długa,"
            "Kwiatowa, Sienkiewicza, Marszałkowska, Piłsudskiego, Jana Pawła II, Żeromskiego"
        ),
        street_format="ul. {s} {n}", unit_format="",
        abbreviations=(("ul. ", ""),),
        calling_code="48", trunk="", mobile=("50", "51", "53", "57", "60", "66", "69", "72", "73", "78", "79", "88"),
        landline=("22", "12", "42", "71", "61", "58"), nsn_length=9, currency="PLN",
        banks=(Bank("PKO Bank Polski", "10201026"), Bank("Bank Pekao", "12401037"),
               Bank("Santander Bank Polska", "10901014"), Bank("mBank", "11402004"),
               Bank("ING Bank Śląski", "10501025")),
        bban_length=24,
        email_domains=("wp.pl", "onet.pl", "o2.pl", "interia.pl", "gmail.com"),
        web_suffix="pl", org_suffixes=("sp. z o.o.", "sp. z o.o.", "S.A."),
        local_business_words=(("Budownictwo", "construction"), ("Transport", "logistics"), ("Handel", "import/export"),
                              ("Usługi", "consulting"), ("Nieruchomości", "real estate")),
    ),
    "SE": CountryProfile(
        code="SE", name="Sweden",
        cultures=(("swedish", 0.82), ("arabic", 0.07), ("polish", 0.03), ("english", 0.03), ("russian", 0.02),
                  ("turkish", 0.03)),
        cities=_cities(
            "Stockholm=1{11-18} ##;Göteborg=4{11-18} ##;Malmö=2{11-18} ##;Uppsala=75{1-7} ##;"
            "Västerås=72{1-6} ##;Örebro=70{2-3} ##;Linköping=58{1-7} ##"
        ),
        streets=_names(
            "Storgatan, Drottninggatan, Kungsgatan, Skolgatan, Järnvägsgatan, Nygatan, Kyrkogatan, Parkvägen,"
            "Ringvägen, Sveavägen, Strandvägen, Vasagatan, Björkvägen, Torggatan"
        ),
        street_format="{s} {n}", unit_format="",
        abbreviations=(("gatan", "g."), ("vägen", "v.")),
        calling_code="46", trunk="0", mobile=("70", "72", "73", "76", "79"), landline=("8", "31", "40", "18"),
        nsn_length=9, currency="SEK",
        banks=(Bank("Swedbank", "800"), Bank("Handelsbanken", "600"), Bank("SEB", "500"), Bank("Nordea", "300")),
        bban_length=20,
        email_domains=("telia.com", "gmail.com", "hotmail.se", "bredband.net", "outlook.com"),
        web_suffix="se", org_suffixes=("AB",),
        local_business_words=(("Bygg", "construction"), ("Fastigheter", "real estate"), ("Transport", "logistics"),
                              ("Handel", "import/export"), ("Konsult", "consulting")),
    ),
    "TR": CountryProfile(
        code="TR", name="Türkiye",
        cultures=(("turkish", 0.95), ("arabic", 0.03), ("russian", 0.02)),
        cities=_cities(
            "İstanbul={34000-34990};Ankara={06000-06990};İzmir={35000-35990};Bursa={16000-16990};"
            "Antalya={07000-07990};Adana={01000-01990};Konya={42000-42990};Gaziantep={27000-27990}"
        ),
        streets=_names(
            "Atatürk Caddesi, Cumhuriyet Caddesi, İstiklal Caddesi, Gazi Mustafa Kemal Bulvarı, Fevzi Çakmak Sokak,"
            "İnönü Caddesi, Menderes Caddesi, Bağdat Caddesi, Millet Caddesi, Lale Sokak, Gül Sokak,"
            "Hürriyet Caddesi, Barbaros Bulvarı"
        ),
        street_format="{s} No: {n}", unit_format="",
        abbreviations=(("Caddesi", "Cad."), ("Sokak", "Sk."), ("Bulvarı", "Blv."), ("No: ", "No:")),
        calling_code="90", trunk="0",
        mobile=("530", "532", "533", "535", "536", "537", "538", "539", "541", "542", "543", "505", "506", "507",
                "551", "552", "553", "554", "555"),
        landline=("212", "216", "312", "232", "224", "242"), nsn_length=10, currency="TRY",
        banks=(Bank("Ziraat Bankası", "000100"), Bank("İş Bankası", "000640"), Bank("Garanti BBVA", "000620"),
               Bank("Akbank", "000460"), Bank("Yapı Kredi", "000670")),
        bban_length=22,
        email_domains=("gmail.com", "hotmail.com", "yandex.com.tr", "mynet.com", "outlook.com"),
        web_suffix="com.tr", org_suffixes=("A.Ş.", "Ltd. Şti.", "Ltd. Şti."),
        local_business_words=(("İnşaat", "construction"), ("Ticaret", "import/export"), ("Nakliyat", "logistics"),
                              ("Gıda", "food"), ("Tekstil", "textiles"), ("Turizm", "hospitality")),
    ),
}  # fmt: skip

# Where each tenant's people and companies live, by the tenant's position (cycled).
TENANT_COUNTRY_MIXES: tuple[dict[str, float], ...] = (
    {"GB": 0.25, "DE": 0.20, "NL": 0.12, "SE": 0.10, "PL": 0.10, "US": 0.08, "FR": 0.08, "ES": 0.03, "IT": 0.02,
     "TR": 0.02},
    {"ES": 0.22, "IT": 0.20, "FR": 0.15, "TR": 0.12, "US": 0.12, "GB": 0.07, "DE": 0.05, "NL": 0.03, "PL": 0.02,
     "SE": 0.02},
    {"US": 0.40, "GB": 0.20, "DE": 0.10, "FR": 0.10, "ES": 0.05, "IT": 0.05, "NL": 0.04, "PL": 0.02, "SE": 0.02,
     "TR": 0.02},
    {"PL": 0.25, "DE": 0.25, "SE": 0.15, "NL": 0.10, "TR": 0.10, "GB": 0.05, "FR": 0.05, "IT": 0.03, "ES": 0.02},
)  # fmt: skip

BUSINESS_WORDS: tuple[tuple[str, str], ...] = (
    ("Logistics", "logistics"), ("Freight", "logistics"), ("Shipping", "shipping"), ("Maritime", "shipping"),
    ("Holdings", "holding"), ("Capital", "financial services"), ("Investments", "financial services"),
    ("Finance", "financial services"), ("Asset Management", "financial services"), ("Trading", "import/export"),
    ("Imports", "import/export"), ("Exports", "import/export"), ("Commodities", "import/export"),
    ("Consulting", "consulting"), ("Advisory", "consulting"), ("Partners", "consulting"),
    ("Energy", "energy"), ("Petroleum", "energy"), ("Renewables", "energy"), ("Mining", "mining"),
    ("Metals", "mining"), ("Minerals", "mining"), ("Pharma", "pharmaceuticals"), ("Life Sciences", "pharmaceuticals"),
    ("Medical", "healthcare"), ("Healthcare", "healthcare"), ("Technologies", "technology"),
    ("Software", "technology"), ("Systems", "technology"), ("Digital", "technology"), ("Data", "technology"),
    ("Telecom", "telecommunications"), ("Networks", "telecommunications"), ("Properties", "real estate"),
    ("Estates", "real estate"), ("Realty", "real estate"), ("Developments", "real estate"),
    ("Construction", "construction"), ("Builders", "construction"), ("Engineering", "manufacturing"),
    ("Industries", "manufacturing"), ("Manufacturing", "manufacturing"), ("Motors", "automotive"),
    ("Automotive", "automotive"), ("Foods", "food"), ("Agro", "agriculture"), ("Farms", "agriculture"),
    ("Textiles", "textiles"), ("Fashion", "retail"), ("Retail", "retail"), ("Stores", "retail"),
    ("Media", "media"), ("Studios", "media"), ("Security", "security services"), ("Aviation", "aviation"),
    ("Air Services", "aviation"), ("Hotels", "hospitality"), ("Travel", "hospitality"), ("Chemicals", "chemicals"),
    ("Insurance", "insurance"), ("Group", "holding"), ("International", "holding"),
)  # fmt: skip

BRAND_WORDS = _names(
    "Atlas, Northgate, Meridian, Zenith, Apex, Vertex, Blue Harbour, Silverline, Orion, Phoenix, Falcon, Summit,"
    "Granite, Harbour, Aurora, Crescent, Pinnacle, Sterling, Evergreen, Cobalt, Redwood, Bluewater, Ironbridge,"
    "Oakwood, Westbrook, Eastgate, Southbank, Highland, Lakeside, Riverside, Golden Gate, Polaris, Nova, Stellar,"
    "Horizon, Keystone, Landmark, Liberty, Monarch, Navigator, Oasis, Paragon, Quantum, Regent, Sapphire,"
    "Titan, Unity, Vanguard, Windsor, Alpine, Beacon, Cardinal, Delta, Equinox, Frontier, Gemini, Helix,"
    "Infinity, Jupiter, Kestrel, Lumen, Magellan, Nimbus, Obsidian, Pegasus, Quartz, Radiant, Solstice, Trident,"
    "Ultramarine, Vector, Wavecrest, Xenon, Yellowstone, Zephyr, Amber, Baltic, Caspian, Danube, Everest, Fjord,"
    "Gulf Stream, Hanseatic, Ionian, Jade, Kilimanjaro, Levant, Mistral, Nordic, Olympus, Pacific, Sahara"
)

LEGAL_SUFFIX_VARIANTS: dict[str, tuple[str, ...]] = {
    "Ltd": ("Limited", "Ltd.", "LTD"), "Limited": ("Ltd", "Ltd."), "PLC": ("plc", "Public Limited Company"),
    "LLP": ("L.L.P.",), "Inc.": ("Inc", "Incorporated", "INC"), "LLC": ("L.L.C.", "Limited Liability Company"),
    "Corp.": ("Corporation", "Corp"), "GmbH": ("Gmbh", "G.m.b.H.", "Gesellschaft mit beschränkter Haftung"),
    "AG": ("Aktiengesellschaft",), "KG": ("Kommanditgesellschaft",), "GmbH & Co. KG": ("GmbH & Co KG", "GmbH u. Co. KG"),
    "SAS": ("S.A.S.",), "SARL": ("S.A.R.L.", "Sàrl"), "SA": ("S.A.",), "S.L.": ("SL", "S.L", "Sociedad Limitada"),
    "S.A.": ("SA", "Sociedad Anónima"), "S.r.l.": ("Srl", "S.R.L.", "s.r.l."), "S.p.A.": ("SpA", "S.P.A."),
    "B.V.": ("BV", "Besloten Vennootschap"), "N.V.": ("NV",), "sp. z o.o.": ("Sp. z o.o.", "spółka z o.o."),
    "AB": ("Aktiebolag", "AB (publ)"), "A.Ş.": ("AŞ", "Anonim Şirketi"), "Ltd. Şti.": ("Ltd Şti", "Limited Şirketi"),
}  # fmt: skip

ORG_ABBREVIATIONS = (
    ("International", "Intl"), ("Holdings", "Hldgs"), ("Group", "Grp"), ("Company", "Co."), ("Services", "Svcs"),
    ("Technologies", "Tech"), ("Investments", "Invest"), ("Logistics", "Log."), ("Properties", "Props"),
    ("Management", "Mgmt"), ("Engineering", "Eng."), ("Manufacturing", "Mfg"), (" & ", " and "), (" and ", " & "),
)  # fmt: skip

WORK_ROLES = _names(
    "employee, manager, director, accountant, analyst, engineer, sales representative, consultant, driver,"
    "administrator, treasurer, compliance officer, contractor, intern"
)
VEHICLE_MODELS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("Volkswagen", "WVW", ("Golf", "Passat", "Polo", "Tiguan", "Transporter")),
    ("BMW", "WBA", ("3 Series", "5 Series", "X5", "X3")), ("Mercedes-Benz", "WDD", ("C-Class", "E-Class", "Sprinter")),
    ("Audi", "WAU", ("A4", "A6", "Q5")), ("Ford", "WF0", ("Focus", "Fiesta", "Transit", "Ranger")),
    ("Toyota", "JTD", ("Corolla", "RAV4", "Land Cruiser", "Hilux", "Yaris")), ("Renault", "VF1", ("Clio", "Mégane")),
    ("Peugeot", "VF3", ("208", "308", "3008")), ("Fiat", "ZFA", ("500", "Panda", "Ducato")),
    ("SEAT", "VSS", ("Ibiza", "León")), ("Škoda", "TMB", ("Octavia", "Fabia", "Superb")),
    ("Volvo", "YV1", ("XC60", "XC90", "V70")), ("Tesla", "5YJ", ("Model 3", "Model Y")),
    ("Honda", "JHM", ("Civic", "CR-V")), ("Hyundai", "KMH", ("Tucson", "i30")), ("Kia", "KNA", ("Sportage", "Ceed")),
    ("Dacia", "UU1", ("Duster", "Sandero")), ("Nissan", "SJN", ("Qashqai", "Micra")),
    ("Land Rover", "SAL", ("Range Rover", "Defender", "Discovery")), ("Chevrolet", "1GC", ("Silverado", "Tahoe")),
)  # fmt: skip
COLOURS = _names("black, white, silver, grey, blue, red, green, beige, brown, dark blue, yellow, orange")
EVENT_TYPES = _names(
    "meeting, border crossing, wire transfer, company filing, court hearing, flight, hotel stay, property purchase,"
    "incident report, conference, cash deposit, vehicle stop"
)
ASSOCIATION_NATURES = ("business", "business", "social", "family", "financial", "unknown")
VIN_ALPHABET = "ABCDEFGHJKLMNPRSTUVWXYZ0123456789"
KEYBOARD_NEIGHBOURS = {
    "a": "qwsz", "b": "vghn", "c": "xdfv", "d": "serfcx", "e": "wsdr", "f": "drtgvc", "g": "ftyhbv", "h": "gyujnb",
    "i": "ujko", "j": "huikmn", "k": "jiolm", "l": "kop", "m": "njk", "n": "bhjm", "o": "iklp", "p": "ol",
    "q": "wa", "r": "edft", "s": "awedxz", "t": "rfgy", "u": "yhji", "v": "cfgb", "w": "qase", "x": "zsdc",
    "y": "tghu", "z": "asx",
}  # fmt: skip

BIRTH_FIRST = date(1940, 1, 1).toordinal()
BIRTH_LAST = date(2006, 12, 31).toordinal()
COMPANY_FIRST = date(1950, 1, 1).toordinal()
RECENT_FIRST = date(2015, 1, 1).toordinal()
RECENT_LAST = date(2025, 6, 30).toordinal()


# ============================================================================ small generators


def _weighted(pairs: Iterable[tuple[str, float]]) -> tuple[list[str], list[float]]:
    values, cumulative, total = [], [], 0.0
    for value, weight in pairs:
        total += weight
        values.append(value)
        cumulative.append(total)
    return values, cumulative


def _pick(rng: random.Random, table: tuple[list[str], list[float]]) -> str:
    values, cumulative = table
    return values[min(bisect.bisect(cumulative, rng.random() * cumulative[-1]), len(values) - 1)]


def _digits(rng: random.Random, count: int) -> str:
    return str(rng.randrange(10**count)).zfill(count)


def _letters(rng: random.Random, count: int, alphabet: str = "ABCDEFGHJKLMNPRSTUVWXYZ") -> str:
    return "".join(rng.choices(alphabet, k=count))


def _fill_pattern(rng: random.Random, pattern: str) -> str:
    """Fill a postal-code pattern: ``{lo-hi}`` a zero-padded number, ``#`` a digit, ``@`` a letter."""
    pattern = rng.choice(pattern.split("|"))
    out, i = [], 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "{":
            end = pattern.index("}", i)
            low, high = pattern[i + 1 : end].split("-")
            out.append(str(rng.randint(int(low), int(high))).zfill(len(high)))
            i = end + 1
            continue
        out.append(_digits(rng, 1) if ch == "#" else _letters(rng, 1, "ABDEFGHJLNPQRSTUWXYZ") if ch == "@" else ch)
        i += 1
    return "".join(out)


def _iso_date(rng: random.Random, first: int, last: int) -> str:
    return date.fromordinal(rng.randint(first, last)).isoformat()


def ascii_fold(text: str, *, german: bool = False) -> str:
    """Drop accents the way a system without Unicode would: 'Müller' -> 'Muller' (or 'Mueller')."""
    if german:
        text = "".join(GERMAN_FOLD.get(ch, ch) for ch in text)
    text = "".join(ASCII_FOLD.get(ch, ch) for ch in text)
    return "".join(ch for ch in unicodedata.normalize("NFKD", text) if not unicodedata.combining(ch))


def _slug_word(text: str) -> str:
    return "".join(ch for ch in ascii_fold(text).lower() if ch.isalnum())


def _luhn_digit(digits: str) -> str:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch) * (2 if i % 2 == 0 else 1)
        total += d - 9 if d > 9 else d
    return str((10 - total % 10) % 10)


def _iban(rng: random.Random, country: CountryProfile, bank: Bank) -> str:
    code = "".join(_letters(rng, 1) if ch == "?" else ch for ch in bank.code)
    bban = code + _digits(rng, country.bban_length - len(code))
    numeric = int("".join(str(int(ch, 36)) for ch in bban + country.code + "00"))
    return f"{country.code}{98 - numeric % 97:02d}{bban}"


def _grouped(text: str, size: int = 4) -> str:
    return " ".join(text[i : i + size] for i in range(0, len(text), size))


def _national_id(rng: random.Random, country: str, birth: str, female: bool, given: str, family: str) -> str:
    """An identifier shaped like the country's personal number (checksums where they are simple)."""
    year, month, day = birth.split("-")
    if country == "GB":
        return _letters(rng, 2, "ABCEGHJKLMNOPRSTWXYZ") + _digits(rng, 6) + rng.choice("ABCD")
    if country == "US":
        return f"{rng.randint(1, 665):03d}-{rng.randint(1, 99):02d}-{rng.randint(1, 9999):04d}"
    if country == "DE":
        return str(rng.randint(1, 9)) + _digits(rng, 10)
    if country == "FR":
        body = f"{2 if female else 1}{year[2:]}{month}{rng.randint(1, 95):02d}{_digits(rng, 6)}"
        return f"{body}{97 - int(body) % 97:02d}"
    if country == "ES":
        number = rng.randint(10_000_000, 99_999_999)
        return f"{number}{'TRWAGMYFPDXBNJZSQVHLCKE'[number % 23]}"
    if country == "IT":
        consonants = [c for c in ascii_fold(family + given).upper() if c.isalpha() and c not in "AEIOU"] + ["X"] * 6
        month_letter = "ABCDEHLMPRST"[int(month) - 1]
        day_code = int(day) + (40 if female else 0)
        return f"{''.join(consonants[:6])}{year[2:]}{month_letter}{day_code:02d}{rng.choice('HFLGA')}{_digits(rng, 3)}{_letters(rng, 1)}"
    if country == "NL":
        while True:
            digits = str(rng.randint(1, 9)) + _digits(rng, 7)
            check = sum(int(d) * (9 - i) for i, d in enumerate(digits)) % 11
            if check < 10:
                return digits + str(check)
    if country == "PL":
        month_code = int(month) + (20 if int(year) >= 2000 else 0)
        body = f"{year[2:]}{month_code:02d}{day}{_digits(rng, 3)}{rng.choice('02468' if female else '13579')}"
        weights = (1, 3, 7, 9, 1, 3, 7, 9, 1, 3)
        return body + str((10 - sum(int(d) * w for d, w in zip(body, weights, strict=True)) % 10) % 10)
    if country == "SE":
        body = f"{year[2:]}{month}{day}{_digits(rng, 3)}"
        return f"{body[:6]}-{body[6:]}{_luhn_digit(body)}"
    if country == "TR":
        d = [rng.randint(1, 9)] + [rng.randint(0, 9) for _ in range(8)]
        d.append(((d[0] + d[2] + d[4] + d[6] + d[8]) * 7 - (d[1] + d[3] + d[5] + d[7])) % 10)
        d.append(sum(d) % 10)
        return "".join(map(str, d))
    return _digits(rng, 10)


def _registration_number(rng: random.Random, country: str) -> str:
    if country == "GB":
        return f"{rng.randint(100_000, 14_999_999):08d}"
    if country == "US":
        return f"{rng.randint(10, 99)}-{_digits(rng, 7)}"
    if country == "DE":
        return f"{rng.choice(('HRB', 'HRB', 'HRA'))} {rng.randint(1000, 250_000)}"
    if country == "FR":
        body = str(rng.randint(3, 9)) + _digits(rng, 7)
        siren = body + _luhn_digit(body)
        return f"{siren[:3]} {siren[3:6]} {siren[6:]}"
    if country == "ES":
        return f"{rng.choice('ABB')}{_digits(rng, 8)}"
    if country == "IT":
        return _digits(rng, 11)
    if country == "NL":
        return str(rng.randint(10_000_000, 99_999_999))
    if country == "PL":
        return f"0000{rng.randint(100_000, 999_999)}"
    if country == "SE":
        return f"55{_digits(rng, 4)}-{_digits(rng, 4)}"
    if country == "TR":
        return _digits(rng, 10)
    return _digits(rng, 9)


def _plate(rng: random.Random, country: str) -> str:
    letters = "ABCDEFGHJKLMNPRSTVWXYZ"
    if country == "GB":
        return f"{_letters(rng, 2, letters)}{rng.randint(10, 74)} {_letters(rng, 3, letters)}"
    if country == "DE":
        return f"{rng.choice(('B', 'HH', 'M', 'K', 'F', 'S', 'D', 'L'))}-{_letters(rng, 2, letters)} {rng.randint(1, 9999)}"
    if country == "FR":
        return f"{_letters(rng, 2, letters)}-{_digits(rng, 3)}-{_letters(rng, 2, letters)}"
    if country == "ES":
        return f"{_digits(rng, 4)} {_letters(rng, 3, 'BCDFGHJKLMNPRSTVWXYZ')}"
    if country == "IT":
        return f"{_letters(rng, 2, letters)}{_digits(rng, 3)}{_letters(rng, 2, letters)}"
    if country == "NL":
        return f"{_digits(rng, 2)}-{_letters(rng, 3, 'BDFGHJKLNPRSTVXZ')}-{_digits(rng, 1)}"
    if country == "PL":
        return f"{rng.choice(('WA', 'KR', 'EL', 'DW', 'PO', 'GD'))} {_digits(rng, 5)}"
    if country == "SE":
        return f"{_letters(rng, 3, letters)} {_digits(rng, 2)}{rng.choice(letters + '0123456789')}"
    if country == "TR":
        return f"{rng.choice(('34', '06', '35', '16', '07'))} {_letters(rng, 3, letters)} {rng.randint(10, 999)}"
    return f"{_letters(rng, 3, letters)}-{_digits(rng, 4)}"


def _phone_presentations(e164: str, country: CountryProfile) -> list[str]:
    """Other ways people write the same number: national format, 00 prefix, spaces and dashes."""
    nsn = e164[1 + len(country.calling_code) :]
    sizes = {9: (3, 3, 3), 10: (3, 3, 4), 11: (3, 4, 4)}.get(len(nsn), (len(nsn),))
    parts, start = [], 0
    for size in sizes:
        parts.append(nsn[start : start + size])
        start += size
    national = country.trunk + nsn
    options = [
        f"+{country.calling_code} {' '.join(parts)}",
        f"00{country.calling_code}{nsn}",
        national,
        f"{country.trunk}{parts[0]}-{''.join(parts[1:])}",
        f"{country.trunk}{' '.join(parts)}",
    ]
    if country.trunk:
        options.append(f"+{country.calling_code} ({country.trunk}){nsn}")
    if country.code == "US":
        options.append(f"({nsn[:3]}) {nsn[3:6]}-{nsn[6:]}")
    return [option for option in options if option != e164]


# ============================================================================ near-duplicates


def typo(rng: random.Random, text: str) -> str | None:
    """One keyboard slip in a word: a neighbouring key, a dropped letter or a doubled one."""
    positions = [i for i in range(1, len(text)) if text[i].isalpha() and text[i - 1].isalpha()]
    if len(positions) < 3:
        return None
    i = rng.choice(positions)
    ch = text[i]
    roll = rng.random()
    if roll < 0.45 and ch.lower() in KEYBOARD_NEIGHBOURS:
        new = rng.choice(KEYBOARD_NEIGHBOURS[ch.lower()])
        return text[:i] + (new.upper() if ch.isupper() else new) + text[i + 1 :]
    if roll < 0.7:
        return text[:i] + text[i + 1 :]
    return text[:i] + ch + text[i:]


def transpose(rng: random.Random, text: str) -> str | None:
    """Swap two neighbouring letters, as in 'Jonhson'."""
    positions = [i for i in range(1, len(text) - 1) if text[i].isalpha() and text[i + 1].isalpha()]
    positions = [i for i in positions if text[i] != text[i + 1]]
    if not positions:
        return None
    i = rng.choice(positions)
    return text[:i] + text[i + 1] + text[i] + text[i + 2 :]


def respell(rng: random.Random, name: str) -> str | None:
    """Another transliteration of the name ('Mohammed' -> 'Muhammad', 'Vasilyev' -> 'Vasilev')."""
    if name in SPELLINGS:
        return rng.choice(SPELLINGS[name])
    for old, new in SPELLING_RULES:
        if old in name:
            return name.replace(old, new, 1)
    return None


def _swap_day_month(birth: str) -> str | None:
    year, month, day = birth.split("-")
    if int(day) > 12 or day == month:
        return None
    return f"{year}-{day}-{month}"


def _shift_date(rng: random.Random, value: str) -> str:
    day = date.fromisoformat(value)
    if rng.random() < 0.5:
        try:
            return day.replace(year=day.year + rng.choice((-1, 1))).isoformat()
        except ValueError:  # 29 February
            pass
    return date.fromordinal(day.toordinal() + rng.choice((-1, 1))).isoformat()


def _vary_email(rng: random.Random, email: str) -> str | None:
    local, _, domain = email.partition("@")
    options = [
        local.title().replace(".", ".") + "@" + domain,
        email.upper(),
        local.replace(".", "") + "@" + domain if "." in local else None,
        f"{local}+{rng.choice(('bank', 'shop', 'news', 'work'))}@{domain}",
        f"{local}@googlemail.com" if domain == "gmail.com" else None,
        f"{local}@{domain.title()}",
    ]
    options = [option for option in options if option and option != email]
    return rng.choice(options) if options else None


# ============================================================================ generation

_to_json = json.JSONEncoder(ensure_ascii=False).encode  # one encoder: json.dumps(**options) builds one per call


@dataclass(slots=True)
class _Record:
    """One generated entity while its batch is built; only ids survive the batch."""

    id: uuid.UUID
    kind: str
    attrs: dict
    country: str
    identity: str = ""
    base: _Record | None = None
    duplicates: list = field(default_factory=list)
    address: _Record | None = None
    employer: _Record | None = None
    domain: str = ""
    director: _Record | None = None


@dataclass
class _Batch:
    """Rows of one batch, ready for COPY."""

    # (id, kind, display_name, attributes as JSON, sensitivity, labels)
    entities: list[tuple] = field(default_factory=list)
    # (id, kind, from id, to id, attributes as JSON, sensitivity)
    relationships: list[tuple] = field(default_factory=list)
    # (entity id, identity, variation)
    truths: list[tuple] = field(default_factory=list)
    duplicates: int = 0


def split_evenly(total: int, parts: int) -> list[int]:
    """``total`` split into ``parts`` near-equal counts, the larger ones first."""
    return [total // parts + (1 if i < total % parts else 0) for i in range(parts)]


def kind_quotas(total: int) -> dict[str, int]:
    """Entities of each kind for a tenant of ``total`` entities (largest remainder, so they add up)."""
    exact = {kind: total * share for kind, share in KIND_SHARES.items()}
    quotas = {kind: int(value) for kind, value in exact.items()}
    by_remainder = sorted(exact, key=lambda kind: (-(exact[kind] - quotas[kind]), list(KIND_SHARES).index(kind)))
    for kind in by_remainder[: total - sum(quotas.values())]:
        quotas[kind] += 1
    return {str(kind): count for kind, count in quotas.items()}


class TenantGenerator:
    """Generates one tenant's demo rows, batch by batch, from its own random streams."""

    def __init__(self, *, seed: int, position: int, slug: str, total: int, batch_size: int = BATCH_SIZE):
        self.rng = random.Random(f"intelgraph-demo/v{GENERATOR_VERSION}/{seed}/{position}")
        self._id_rng = random.Random(f"intelgraph-demo-ids/{seed}/{slug}")
        self.total = total
        self.batch_size = batch_size
        self.quotas = kind_quotas(total)
        self.country_table = _weighted(TENANT_COUNTRY_MIXES[position % len(TENANT_COUNTRY_MIXES)].items())
        self.culture_tables = {code: _weighted(profile.cultures) for code, profile in COUNTRIES.items()}
        self.business_words = _weighted((pair, 1.0) for pair in BUSINESS_WORDS)
        self.org_pool: list[_Record] = []  # earlier organisations, so links cross batches
        self.account_pool: list[uuid.UUID] = []
        self.person_identities = itertools.count(1)
        self.org_identities = itertools.count(1)

    # ---------------------------------------------------------------- plumbing

    def _new_id(self) -> uuid.UUID:
        return uuid.UUID(int=self._id_rng.getrandbits(128), version=4)

    def batches(self):
        count = max(1, -(-self.total // self.batch_size))
        for b in range(count):
            yield self._batch({kind: q * (b + 1) // count - q * b // count for kind, q in self.quotas.items()})

    def _emit(self, batch: _Batch, record: _Record, display_name: str, labels: list[str], floor: int = 0) -> None:
        batch.entities.append(
            (record.id, record.kind, display_name[:300], _to_json(record.attrs),
             self._sensitivity(floor), sorted(labels))
        )  # fmt: skip

    def _link(self, batch: _Batch, kind: str, source: _Record | uuid.UUID, target: _Record | uuid.UUID,
              attributes: dict | None = None, sensitivity: int | None = None) -> None:  # fmt: skip
        from_id = source.id if isinstance(source, _Record) else source
        to_id = target.id if isinstance(target, _Record) else target
        if from_id == to_id:
            return
        if sensitivity is None:
            sensitivity = 2 if self.rng.random() < 0.08 else 1
        batch.relationships.append(
            (self._new_id(), kind, from_id, to_id, _to_json(attributes) if attributes else "{}", sensitivity)
        )

    def _sensitivity(self, floor: int = 0) -> int:
        roll = self.rng.random()
        level = 0 if roll < 0.07 else 1 if roll < 0.74 else 2 if roll < 0.91 else 3 if roll < 0.985 else 4
        return max(level, floor)

    def _labels(self, choices: tuple[tuple[str, float, int], ...]) -> tuple[list[str], int]:
        labels, floor = [], 0
        for label, chance, label_floor in choices:
            if self.rng.random() < chance:
                labels.append(label)
                floor = max(floor, label_floor)
        return labels, floor

    # ---------------------------------------------------------------- batch

    def _batch(self, counts: dict[str, int]) -> _Batch:
        batch = _Batch()
        addresses = [self._address(batch) for _ in range(counts[EntityKind.ADDRESS])]
        orgs = self._organizations(batch, counts[EntityKind.ORGANIZATION], addresses)
        persons = self._persons(batch, counts[EntityKind.PERSON], addresses, orgs)
        self._directors(batch, orgs, persons)
        self._phones(batch, counts[EntityKind.PHONE], persons, orgs)
        self._emails(batch, counts[EntityKind.EMAIL], persons, orgs)
        self._accounts(batch, counts[EntityKind.ACCOUNT], persons, orgs)
        self._vehicles(batch, counts[EntityKind.VEHICLE], persons, orgs)
        self._events(batch, counts[EntityKind.EVENT], persons, orgs, addresses)
        self._associations(batch, persons)
        bases = [org for org in orgs if org.base is None]
        for org in bases[: max(1, len(bases) // 4)]:
            # A slim copy, so the pool does not keep whole earlier batches alive through references.
            self._keep(self.org_pool, _Record(org.id, org.kind, {}, org.country, domain=org.domain), 5000)
        return batch

    def _keep(self, pool: list, item, limit: int) -> None:
        if len(pool) < limit:
            pool.append(item)
        else:
            pool[self.rng.randrange(limit)] = item

    # ---------------------------------------------------------------- addresses

    def _country(self) -> CountryProfile:
        return COUNTRIES[_pick(self.rng, self.country_table)]

    def _address_attrs(self, country: CountryProfile) -> dict:
        rng = self.rng
        city_index = rng.randrange(len(country.cities))
        city, pattern = country.cities[city_index]
        number = (
            rng.randint(100, 9999) if country.code == "US" else rng.choice((rng.randint(1, 40), rng.randint(1, 250)))
        )
        street = country.street_format.format(n=number, s=rng.choice(country.streets))
        if country.unit_format and rng.random() < 0.15:
            unit = country.unit_format.format(u=rng.randint(1, 30), l=rng.choice("ABCD"))
            street = unit + street if country.unit_format.endswith(", ") else street + unit
        attrs = {"street": street, "city": city, "postal_code": _fill_pattern(rng, pattern), "country": country.code}
        if country.region_codes:
            attrs["region"] = country.region_codes[city_index]
        return attrs

    def _address(self, batch: _Batch) -> _Record:
        country = self._country()
        attrs = self._address_attrs(country)
        attrs["address_type"] = "commercial" if self.rng.random() < 0.2 else "residential"
        record = _Record(self._new_id(), EntityKind.ADDRESS, attrs, country.code)
        self._emit(batch, record, _address_line(attrs), [])
        return record

    # ---------------------------------------------------------------- organisations

    def _organizations(self, batch: _Batch, count: int, addresses: list[_Record]) -> list[_Record]:
        records: list[_Record] = []
        bases: list[_Record] = []
        hubs = addresses[: max(1, len(addresses) // 100)]  # formation agents: many companies, one address
        for _ in range(count):
            base = self._duplicate_target(bases)
            if base is not None:
                record = self._org_duplicate(batch, base, addresses)
            else:
                pool = hubs if hubs and self.rng.random() < 0.15 else addresses
                record = self._org_base(batch, self.rng.choice(pool) if pool else None)
                bases.append(record)
            records.append(record)
        for record in bases:
            if self.rng.random() < 0.08:
                parent = self._other_org(record, bases)
                if parent is not None:
                    self._link(batch, "subsidiary_of", record, parent, {"share": self.rng.choice((51, 75, 100, 100))})
        return records

    def _duplicate_target(self, bases: list[_Record]) -> _Record | None:
        if not bases or self.rng.random() >= DUPLICATE_RATE:
            return None
        base = self.rng.choice(bases)
        return base if len(base.duplicates) < MAX_DUPLICATES_PER_IDENTITY else None

    def _org_base(self, batch: _Batch, address: _Record | None) -> _Record:
        rng = self.rng
        country = COUNTRIES[address.country] if address else self._country()
        place = address.attrs if address else self._address_attrs(country)
        if country.local_business_words and rng.random() < 0.4:
            word, industry = rng.choice(country.local_business_words)
        else:
            word, industry = _pick(rng, self.business_words)
        culture = CULTURES[_pick(rng, self.culture_tables[country.code])]
        roll = rng.random()
        if roll < 0.35:
            stem = f"{rng.choice(culture.family)} {word}"
        elif roll < 0.65:
            stem = f"{rng.choice(BRAND_WORDS)} {word}"
        elif roll < 0.75:
            stem = f"{place['city']} {word}"
        elif roll < 0.87:
            stem = f"{rng.choice(culture.family)} & {rng.choice(culture.family)}"
            industry = rng.choice(("consulting", "financial services", "legal services"))
        else:
            stem = f"{_letters(rng, 3)} {word}"
        legal_name = f"{stem} {rng.choice(country.org_suffixes)}"
        domain = f"{_slug_word(stem)[:24] or 'company'}.{country.web_suffix}"
        attrs = {
            "legal_name": legal_name,
            "registration_number": _registration_number(rng, country.code),
            "country": country.code,
            "city": place["city"],
            "postal_code": place["postal_code"],
            "street": place["street"],
            "incorporation_date": _iso_date(rng, COMPANY_FIRST, RECENT_LAST),
            "industry": industry,
            "website": f"www.{domain}",
        }
        record = _Record(self._new_id(), EntityKind.ORGANIZATION, attrs, country.code, address=address, domain=domain)
        record.identity = f"org-{next(self.org_identities):07d}"
        labels, floor = self._labels((("sanctions", 0.008, 2), ("watchlist", 0.01, 2)))
        self._emit(batch, record, legal_name, labels, floor)
        batch.truths.append((record.id, record.identity, ""))
        if address is not None:
            self._link(batch, "registered_at", record, address, {"since": attrs["incorporation_date"][:4]})
        return record

    def _org_duplicate(self, batch: _Batch, base: _Record, addresses: list[_Record]) -> _Record:
        rng = self.rng
        attrs = dict(base.attrs)
        country = COUNTRIES[base.country]
        changes, address = self._apply_changes(ORG_CHANGES, attrs, country, addresses, base.address)
        if not changes:
            attrs["legal_name"] = attrs["legal_name"].upper()
            changes.append("legal_name upper case")
        record = _Record(self._new_id(), EntityKind.ORGANIZATION, attrs, base.country, base=base, address=address,
                         domain=base.domain)  # fmt: skip
        record.identity = base.identity
        base.duplicates.append(record)
        labels, floor = self._labels((("sanctions", 0.004, 2), ("watchlist", 0.01, 2)))
        self._emit(batch, record, attrs["legal_name"], labels, floor)
        batch.truths.append((record.id, record.identity, "; ".join(changes)[:100]))
        batch.duplicates += 1
        if address is not None and "street" in attrs and rng.random() < 0.8:
            self._link(batch, "registered_at", record, address)
        return record

    def _apply_changes(self, table, attrs, country, addresses, address) -> tuple[list[str], _Record | None]:
        """Apply one to three different kinds of change, drawn by weight; returns the notes and the address."""
        rng = self.rng
        wanted = 1 if rng.random() < 0.55 else 2 if rng.random() < 0.78 else 3
        functions = [fn for fn, _ in table]
        weights = [w for _, w in table]
        changes: list[str] = []
        dropping = None  # removing fields goes last, so no note describes a field that is gone
        while functions and len(changes) + (dropping is not None) < wanted:
            i = rng.choices(range(len(functions)), weights)[0]
            change = functions.pop(i)
            weights.pop(i)
            if change in DROPPING_CHANGES:
                dropping = change
                continue
            done = change(self, attrs, country, addresses)
            if isinstance(done, tuple):
                done, address = done
            if done:
                changes.append(done)
        if dropping is not None and (done := dropping(self, attrs, country, addresses)):
            changes.append(done)
        return changes, address

    def _other_org(self, record: _Record, orgs: list[_Record]) -> _Record | None:
        candidates = self.org_pool if self.org_pool and (self.rng.random() < 0.3 or len(orgs) < 2) else orgs
        if not candidates:
            return None
        other = self.rng.choice(candidates)
        return None if other is record else other

    def _employer(self, orgs: list[_Record], country: str) -> _Record | None:
        rng = self.rng
        if self.org_pool and (not orgs or rng.random() < 0.2):
            return rng.choice(self.org_pool)
        if not orgs:
            return None
        # Skewed towards the batch's first organisations (a few large employers), and towards
        # one in the person's own country.
        candidates = [orgs[int(len(orgs) * rng.random() ** 2)] for _ in range(3)]
        return next((org for org in candidates if org.country == country), candidates[0])

    # ---------------------------------------------------------------- persons

    def _persons(self, batch: _Batch, count: int, addresses: list[_Record], orgs: list[_Record]) -> list[_Record]:
        records: list[_Record] = []
        bases: list[_Record] = []
        residents: dict[uuid.UUID, _Record] = {}
        for _ in range(count):
            base = self._duplicate_target(bases)
            if base is not None:
                records.append(self._person_duplicate(batch, base, addresses))
                continue
            address = self.rng.choice(addresses) if addresses else None
            employer = self._employer(orgs, address.country if address else "") if self.rng.random() < 0.6 else None
            record = self._person_base(batch, address, employer)
            if address is not None:
                housemate = residents.get(address.id)
                if housemate is not None and self.rng.random() < 0.5:
                    self._link(batch, "associated_with", record, housemate, {"nature": "family"})
                residents[address.id] = record
            bases.append(record)
            records.append(record)
        return records

    def _person_base(self, batch: _Batch, address: _Record | None, employer: _Record | None) -> _Record:
        rng = self.rng
        country = COUNTRIES[address.country] if address else self._country()
        culture = CULTURES[_pick(rng, self.culture_tables[country.code])]
        female = rng.random() < 0.5
        given = rng.choice(culture.female if female else culture.male)
        family = rng.choice(culture.family)
        if female:
            for suffix, feminine in culture.feminine_surnames:
                if family.endswith(suffix):
                    family = family[: -len(suffix)] + feminine
                    break
        if culture.double_surname and rng.random() < culture.double_surname:
            family = f"{family} {rng.choice(culture.family)}"
        elif rng.random() < 0.015:
            family = f"{family}-{rng.choice(culture.family)}"
        birth = _iso_date(rng, BIRTH_FIRST, BIRTH_LAST)
        attrs = {
            "given_name": given,
            "family_name": family,
            "birth_date": birth,
            "gender": "female" if female else "male",
        }
        domain = ""
        if rng.random() < 0.8:
            if employer is not None and rng.random() < 0.3:
                domain = employer.domain
            else:
                domain = rng.choice(country.email_domains)
            attrs["email"] = f"{self._email_local(given, family, birth)}@{domain}"
        if rng.random() < 0.85:
            attrs["phone"] = self._phone_number(country, mobile=True)
        place = address.attrs if address else self._address_attrs(country)
        attrs.update({key: place[key] for key in ("street", "city", "postal_code", "country")})
        if rng.random() < 0.35:
            attrs["national_id"] = _national_id(rng, country.code, birth, female, given, family)
        record = _Record(self._new_id(), EntityKind.PERSON, attrs, country.code, address=address, employer=employer,
                         domain=domain)  # fmt: skip
        record.identity = f"person-{next(self.person_identities):07d}"
        labels, floor = self._labels((("pep", 0.012, 1), ("sanctions", 0.004, 2), ("watchlist", 0.01, 2),
                                      ("vip", 0.008, 2)))  # fmt: skip
        self._emit(batch, record, f"{given} {family}", labels, floor)
        batch.truths.append((record.id, record.identity, ""))
        if address is not None:
            self._link(batch, "lives_at", record, address, {"since": str(rng.randint(int(birth[:4]) + 18, 2025))})
        if employer is not None:
            self._link(batch, "works_for", record, employer,
                       {"role": rng.choice(WORK_ROLES), "since": str(rng.randint(max(int(birth[:4]) + 18, 1990), 2025))})  # fmt: skip
        return record

    def _email_local(self, given: str, family: str, birth: str) -> str:
        g = _slug_word(given.split()[0]) or "x"
        f = _slug_word(family.split()[0]) or "x"
        return self.rng.choice(
            (f"{g}.{f}", f"{g}{f}", f"{g[0]}{f}", f"{g}.{f}{self.rng.randint(1, 99)}", f"{f}.{g}", f"{g}_{f}",
             f"{g}{birth[2:4]}", f"{g[0]}.{f}")
        )  # fmt: skip

    def _phone_number(self, country: CountryProfile, *, mobile: bool) -> str:
        prefix = self.rng.choice(country.mobile if mobile else country.landline)
        return f"+{country.calling_code}{prefix}{_digits(self.rng, country.nsn_length - len(prefix))}"

    def _person_duplicate(self, batch: _Batch, base: _Record, addresses: list[_Record]) -> _Record:
        rng = self.rng
        attrs = dict(base.attrs)
        country = COUNTRIES[base.country]
        changes, address = self._apply_changes(PERSON_CHANGES, attrs, country, addresses, base.address)
        if not changes:
            attrs["family_name"] = attrs["family_name"].upper()
            changes.append("family_name upper case")
        record = _Record(self._new_id(), EntityKind.PERSON, attrs, base.country, base=base, address=address,
                         employer=base.employer)  # fmt: skip
        record.identity = base.identity
        base.duplicates.append(record)
        labels, floor = self._labels((("pep", 0.006, 1), ("watchlist", 0.005, 2)))
        self._emit(batch, record, f"{attrs['given_name']} {attrs['family_name']}", labels, floor)
        batch.truths.append((record.id, record.identity, "; ".join(changes)[:100]))
        batch.duplicates += 1
        if address is not None and "street" in attrs and rng.random() < 0.8:
            self._link(batch, "lives_at", record, address)
        if base.employer is not None and rng.random() < 0.3:
            self._link(batch, "works_for", record, base.employer, {"role": rng.choice(WORK_ROLES)})
        return record

    # ---------------------------------------------------------------- links to people and companies

    def _directors(self, batch: _Batch, orgs: list[_Record], persons: list[_Record]) -> None:
        if not persons:
            return
        rng = self.rng
        for org in orgs:
            if org.base is not None and org.base.director is not None and rng.random() < 0.5:
                director = org.base.director
            else:
                director = rng.choice(persons)
            org.director = director
            appointed = {"appointed": _iso_date(rng, date.fromisoformat(org.attrs.get("incorporation_date", "2000-01-01")).toordinal(), RECENT_LAST)}  # fmt: skip
            self._link(batch, "director_of", director, org, appointed)
            if rng.random() < 0.3:
                self._link(batch, "director_of", rng.choice(persons), org)

    def _phones(self, batch: _Batch, count: int, persons: list[_Record], orgs: list[_Record]) -> None:
        rng = self.rng
        owners = [p for p in persons if p.base is None and "phone" in p.attrs]
        owners = rng.sample(owners, min(count, len(owners)))
        for owner in owners:
            number = owner.attrs["phone"]
            phone = _Record(self._new_id(), EntityKind.PHONE, {"number": number, "country": owner.country,
                                                              "line_type": "mobile"}, owner.country)  # fmt: skip
            self._emit(batch, phone, number, [])
            self._link(batch, "has_phone", owner, phone)
            for duplicate in owner.duplicates:
                if "phone" in duplicate.attrs and rng.random() < 0.4:
                    self._link(batch, "has_phone", duplicate, phone)
        for _ in range(count - len(owners)):
            org = rng.choice(orgs) if orgs else None
            country = COUNTRIES[org.country] if org else self._country()
            number = self._phone_number(country, mobile=False)
            phone = _Record(self._new_id(), EntityKind.PHONE, {"number": number, "country": country.code,
                                                              "line_type": "landline"}, country.code)  # fmt: skip
            self._emit(batch, phone, number, [])
            if org is not None:
                self._link(batch, "has_phone", org, phone)

    def _emails(self, batch: _Batch, count: int, persons: list[_Record], orgs: list[_Record]) -> None:
        rng = self.rng
        owners = [p for p in persons if p.base is None and "email" in p.attrs]
        owners = rng.sample(owners, min(count, len(owners)))
        for owner in owners:
            address = owner.attrs["email"]
            domain = address.partition("@")[2]
            provider = "corporate" if owner.employer is not None and domain == owner.employer.domain else "freemail"
            email = _Record(self._new_id(), EntityKind.EMAIL, {"address": address, "domain": domain,
                                                              "provider": provider}, owner.country)  # fmt: skip
            self._emit(batch, email, address, [])
            self._link(batch, "has_email", owner, email)
            for duplicate in owner.duplicates:
                if "email" in duplicate.attrs and rng.random() < 0.4:
                    self._link(batch, "has_email", duplicate, email)
        for _ in range(count - len(owners)):
            org = rng.choice(orgs) if orgs else None
            domain = org.domain if org else f"{_slug_word(rng.choice(BRAND_WORDS))}.com"
            local = rng.choice(("info", "contact", "sales", "accounts", "office", "admin", "billing", "hr"))
            address = f"{local}{rng.randint(1, 99) if rng.random() < 0.3 else ''}@{domain}"
            email = _Record(self._new_id(), EntityKind.EMAIL, {"address": address, "domain": domain,
                                                              "provider": "corporate"}, org.country if org else "")  # fmt: skip
            self._emit(batch, email, address, [])
            if org is not None:
                self._link(batch, "has_email", org, email)

    def _holder(self, persons: list[_Record], orgs: list[_Record]) -> _Record | None:
        if orgs and (not persons or self.rng.random() < 0.25):
            return self.rng.choice(orgs)
        return self.rng.choice(persons) if persons else None

    def _accounts(self, batch: _Batch, count: int, persons: list[_Record], orgs: list[_Record]) -> None:
        rng = self.rng
        accounts: list[tuple[uuid.UUID, str]] = []
        for _ in range(count):
            holder = self._holder(persons, orgs)
            country = COUNTRIES[holder.country] if holder else self._country()
            bank = rng.choice(country.banks)
            kind = "business" if holder is not None and holder.kind == EntityKind.ORGANIZATION else rng.choice(
                ("current", "current", "savings"))  # fmt: skip
            if country.bban_length:
                number = _iban(rng, country, bank)
                attrs = {"iban": number, "bank": bank.name}
                display = f"{bank.name} {_grouped(number)}"
            else:
                number = _digits(rng, rng.choice((10, 11, 12)))
                attrs = {"account_number": number, "routing_number": bank.code, "bank": bank.name}
                display = f"{bank.name} ••••{number[-4:]}"
            attrs.update({"currency": country.currency, "opened": _iso_date(rng, date(1995, 1, 1).toordinal(), RECENT_LAST),
                          "country": country.code, "account_type": kind})  # fmt: skip
            account = _Record(self._new_id(), EntityKind.ACCOUNT, attrs, country.code)
            labels, floor = self._labels((("watchlist", 0.005, 2),))
            self._emit(batch, account, display, labels, floor)
            accounts.append((account.id, country.currency))
            if holder is not None:
                self._link(batch, "holds_account", holder, account, {"role": "owner"})
                if holder.kind == EntityKind.PERSON and len(persons) > 1 and rng.random() < 0.12:
                    self._link(batch, "holds_account", rng.choice(persons), account, {"role": "joint holder"})
                elif holder.kind == EntityKind.ORGANIZATION and persons and rng.random() < 0.3:
                    self._link(batch, "holds_account", rng.choice(persons), account, {"role": "signatory"})
        for account_id, currency in accounts:
            for _ in range(rng.choice((0, 0, 1, 1, 1, 2, 2, 3, 4))):
                if self.account_pool and (len(accounts) < 2 or rng.random() < 0.25):
                    target = rng.choice(self.account_pool)
                else:
                    target = rng.choice(accounts)[0]
                amount = round(rng.lognormvariate(7, 1.6), 2)
                attrs = {"amount": amount, "currency": currency, "date": _iso_date(rng, RECENT_FIRST, RECENT_LAST),
                         "reference": f"{rng.choice(('INV', 'TRF', 'PAY', 'REF', 'LOAN'))}-{_digits(rng, 6)}"}  # fmt: skip
                roll = rng.random()
                self._link(batch, "transferred_to", account_id, target, attrs,
                           3 if roll < 0.03 else 2 if roll < 0.35 else 1)  # fmt: skip
        for account_id, _ in accounts[: max(1, len(accounts) // 4)]:
            self._keep(self.account_pool, account_id, 10_000)

    def _vehicles(self, batch: _Batch, count: int, persons: list[_Record], orgs: list[_Record]) -> None:
        rng = self.rng
        for _ in range(count):
            owner = self._holder(persons, orgs) if rng.random() < 0.15 or not persons else rng.choice(persons)
            country = COUNTRIES[owner.country] if owner else self._country()
            make, wmi, models_ = rng.choice(VEHICLE_MODELS)
            model, year = rng.choice(models_), rng.randint(2000, 2025)
            plate = _plate(rng, country.code)
            attrs = {"make": make, "model": model, "year": year, "colour": rng.choice(COLOURS), "plate": plate,
                     "vin": wmi + _letters(rng, 14, VIN_ALPHABET), "country": country.code}  # fmt: skip
            vehicle = _Record(self._new_id(), EntityKind.VEHICLE, attrs, country.code)
            self._emit(batch, vehicle, f"{year} {make} {model} ({plate})", [])
            if owner is not None:
                self._link(batch, "owns", owner, vehicle, {"since": str(rng.randint(year, 2025))})

    def _events(self, batch: _Batch, count: int, persons: list[_Record], orgs: list[_Record],
                addresses: list[_Record]) -> None:  # fmt: skip
        rng = self.rng
        for _ in range(count):
            kind = rng.choice(EVENT_TYPES)
            place = rng.choice(addresses) if addresses and rng.random() < 0.5 else None
            where = place.attrs if place else self._address_attrs(self._country())
            when = _iso_date(rng, RECENT_FIRST, RECENT_LAST)
            attrs = {"event_type": kind, "date": when, "city": where["city"], "country": where["country"],
                     "description": f"{kind.capitalize()} recorded in {where['city']}"}  # fmt: skip
            event = _Record(self._new_id(), EntityKind.EVENT, attrs, where["country"])
            labels, floor = self._labels((("watchlist", 0.02, 2),))
            self._emit(batch, event, f"{kind.capitalize()}, {where['city']}, {when}", labels, floor)
            if place is not None:
                self._link(batch, "located_at", event, place)
            for participant in {p.id: p for p in rng.sample(persons, min(len(persons), rng.randint(1, 4)))}.values():
                self._link(batch, "participated_in", participant, event)
            if orgs and rng.random() < 0.4:
                self._link(batch, "participated_in", rng.choice(orgs), event)

    def _associations(self, batch: _Batch, persons: list[_Record]) -> None:
        if len(persons) < 2:
            return
        rng = self.rng
        for person in persons:
            if rng.random() < 0.25:
                nature = rng.choice(ASSOCIATION_NATURES)
                self._link(batch, "associated_with", person, rng.choice(persons), {"nature": nature},
                           2 if rng.random() < 0.2 else 1)  # fmt: skip


def _address_line(attrs: dict) -> str:
    country = attrs["country"]
    if country == "GB":
        return f"{attrs['street']}, {attrs['city']} {attrs['postal_code']}, {country}"
    if country == "US":
        return f"{attrs['street']}, {attrs['city']}, {attrs.get('region', '')} {attrs['postal_code']}, {country}"
    return f"{attrs['street']}, {attrs['postal_code']} {attrs['city']}, {country}"


# ---------------------------------------------------------------------------- how duplicates differ
# Each change edits a copy of the original's attributes in place and returns a short note
# for GroundTruthLabel.variation, a (note, new address record) pair when it moves the
# record, or None when it does not apply to this record.


def _name_key(gen: TenantGenerator) -> str:
    return "family_name" if gen.rng.random() < 0.6 else "given_name"


def _person_typo(gen, attrs, country, addresses):
    key = _name_key(gen)
    new = typo(gen.rng, attrs[key])
    if not new or new == attrs[key]:
        return None
    attrs[key] = new
    return f"typo in {key}"


def _person_transposition(gen, attrs, country, addresses):
    key = _name_key(gen)
    new = transpose(gen.rng, attrs[key])
    if not new:
        return None
    attrs[key] = new
    return f"letters swapped in {key}"


def _person_nickname(gen, attrs, country, addresses):
    old = attrs["given_name"]
    if old not in NICKNAMES:
        return None
    attrs["given_name"] = gen.rng.choice(NICKNAMES[old])
    return f"nickname {old}->{attrs['given_name']}"


def _person_respelling(gen, attrs, country, addresses):
    for key in ("given_name", "family_name") if gen.rng.random() < 0.5 else ("family_name", "given_name"):
        new = respell(gen.rng, attrs[key])
        if new and new != attrs[key]:
            attrs[key] = new
            return f"other spelling of {key}"
    return None


def _person_accents(gen, attrs, country, addresses):
    german = country.code == "DE" and gen.rng.random() < 0.5
    changed = []
    for key in ("given_name", "family_name", "street", "city"):
        if key in attrs:
            folded = ascii_fold(attrs[key], german=german)
            if folded != attrs[key]:
                attrs[key] = folded
                changed.append(key)
    return "accents dropped" if changed else None


def _person_initial(gen, attrs, country, addresses):
    attrs["given_name"] = attrs["given_name"][0] + "."
    return "given_name reduced to initial"


def _person_middle_initial(gen, attrs, country, addresses):
    attrs["given_name"] = f"{attrs['given_name']} {_letters(gen.rng, 1)}."
    return "middle initial added"


def _person_missing(gen, attrs, country, addresses):
    present = [key for key in ("birth_date", "email", "phone", "national_id", "street", "postal_code") if key in attrs]
    if not present:
        return None
    dropped = gen.rng.sample(present, min(len(present), gen.rng.choice((1, 1, 2))))
    for key in dropped:
        del attrs[key]
    return "missing " + ", ".join(sorted(dropped))


def _moved(gen, attrs, country, addresses):
    rng = gen.rng
    if addresses and rng.random() < 0.9:
        # Mostly a move within the country, now and then abroad.
        picks = [rng.choice(addresses) for _ in range(6)]
        home = [a for a in picks if a.country == country.code]
        address = home[0] if home and rng.random() < 0.9 else picks[0]
        place = address.attrs
    else:
        address, place = None, gen._address_attrs(country)
    if place["street"] == attrs.get("street"):
        return None
    attrs.update({key: place[key] for key in ("street", "city", "postal_code", "country")})
    return "address changed", address


def _person_birth_swap(gen, attrs, country, addresses):
    swapped = _swap_day_month(attrs["birth_date"]) if "birth_date" in attrs else None
    if not swapped:
        return None
    attrs["birth_date"] = swapped
    return "birth_date day/month swapped"


def _person_birth_shift(gen, attrs, country, addresses):
    if "birth_date" not in attrs:
        return None
    attrs["birth_date"] = _shift_date(gen.rng, attrs["birth_date"])
    return "birth_date off by one"


def _person_email(gen, attrs, country, addresses):
    new = _vary_email(gen.rng, attrs["email"]) if "email" in attrs else None
    if not new:
        return None
    attrs["email"] = new
    return "email case/dots/tag changed"


def _person_phone(gen, attrs, country, addresses):
    if "phone" not in attrs:
        return None
    attrs["phone"] = gen.rng.choice(_phone_presentations(attrs["phone"], country))
    return "phone formatted differently"


def _person_name_order(gen, attrs, country, addresses):
    attrs["given_name"], attrs["family_name"] = attrs["family_name"], attrs["given_name"]
    return "given and family name swapped"


def _person_second_surname(gen, attrs, country, addresses):
    family = attrs["family_name"]
    for separator in (" ", "-"):
        first, sep, rest = family.partition(separator)
        if sep and rest and first[:1].isupper():
            attrs["family_name"] = first
            return "second family name dropped"
    return None


def _person_married(gen, attrs, country, addresses):
    if attrs.get("gender") != "female":
        return None
    culture = CULTURES[_pick(gen.rng, gen.culture_tables[country.code])]
    family = gen.rng.choice(culture.family)
    for suffix, feminine in culture.feminine_surnames:
        if family.endswith(suffix):
            family = family[: -len(suffix)] + feminine
            break
    if family == attrs["family_name"]:
        return None
    attrs["family_name"] = family
    return "family_name changed (marriage)"


def _person_id_format(gen, attrs, country, addresses):
    value = attrs.get("national_id")
    if not value:
        return None
    compact = value.replace("-", "").replace(" ", "")
    attrs["national_id"] = compact if compact != value else _grouped(value, 3)
    return "national_id formatted differently"


PERSON_CHANGES = (
    (_person_typo, 3.0), (_person_transposition, 2.0), (_person_nickname, 4.0), (_person_respelling, 1.5),
    (_person_accents, 1.5), (_person_initial, 1.0), (_person_middle_initial, 0.7), (_person_missing, 3.0),
    (_moved, 2.0), (_person_birth_swap, 2.0), (_person_birth_shift, 1.0), (_person_email, 2.0),
    (_person_phone, 3.0), (_person_name_order, 0.7), (_person_second_surname, 1.0), (_person_married, 0.7),
    (_person_id_format, 0.8),
)  # fmt: skip


def _legal_form(name: str) -> str | None:
    for suffix in sorted(LEGAL_SUFFIX_VARIANTS, key=len, reverse=True):
        if name.endswith(" " + suffix):
            return suffix
    return None


def _org_legal_form(gen, attrs, country, addresses):
    suffix = _legal_form(attrs["legal_name"])
    if not suffix:
        return None
    attrs["legal_name"] = attrs["legal_name"][: -len(suffix)] + gen.rng.choice(LEGAL_SUFFIX_VARIANTS[suffix])
    return "legal form written differently"


def _org_legal_form_dropped(gen, attrs, country, addresses):
    suffix = _legal_form(attrs["legal_name"])
    if not suffix:
        return None
    attrs["legal_name"] = attrs["legal_name"][: -len(suffix) - 1]
    return "legal form dropped"


def _org_abbreviation(gen, attrs, country, addresses):
    name = attrs["legal_name"]
    for old, new in gen.rng.sample(ORG_ABBREVIATIONS, len(ORG_ABBREVIATIONS)):
        if old in name:
            attrs["legal_name"] = name.replace(old, new, 1)
            return f"'{old.strip()}' abbreviated"
    return None


def _org_typo(gen, attrs, country, addresses):
    new = typo(gen.rng, attrs["legal_name"])
    if not new:
        return None
    attrs["legal_name"] = new
    return "typo in legal_name"


def _org_transposition(gen, attrs, country, addresses):
    new = transpose(gen.rng, attrs["legal_name"])
    if not new:
        return None
    attrs["legal_name"] = new
    return "letters swapped in legal_name"


def _org_case(gen, attrs, country, addresses):
    name = attrs["legal_name"]
    attrs["legal_name"] = name.upper() if gen.rng.random() < 0.7 else name.lower()
    return "legal_name case changed"


def _org_accents(gen, attrs, country, addresses):
    changed = False
    for key in ("legal_name", "street", "city"):
        if key in attrs:
            folded = ascii_fold(attrs[key], german=country.code == "DE")
            changed |= folded != attrs[key]
            attrs[key] = folded
    return "accents dropped" if changed else None


def _org_missing(gen, attrs, country, addresses):
    present = [k for k in ("registration_number", "incorporation_date", "industry", "website", "street") if k in attrs]
    if not present:
        return None
    dropped = gen.rng.sample(present, min(len(present), gen.rng.choice((1, 1, 2))))
    for key in dropped:
        del attrs[key]
    return "missing " + ", ".join(sorted(dropped))


def _org_registration_format(gen, attrs, country, addresses):
    value = attrs.get("registration_number")
    if not value:
        return None
    compact = value.replace(" ", "").replace("-", "")
    attrs["registration_number"] = compact if compact != value else f"{country.code}{value}"
    return "registration_number formatted differently"


DROPPING_CHANGES = (_person_missing, _org_missing)
ORG_CHANGES = (
    (_org_legal_form, 3.0), (_org_legal_form_dropped, 2.0), (_org_abbreviation, 2.0), (_org_typo, 2.0),
    (_org_transposition, 1.0), (_org_case, 1.5), (_org_accents, 1.0), (_org_missing, 2.5), (_moved, 1.5),
    (_org_registration_format, 1.5),
)  # fmt: skip


# ============================================================================ writing


@dataclass
class TenantSeedResult:
    """What ``demo_seed`` wrote into one tenant."""

    slug: str
    created_tenant: bool
    entities: Counter = field(default_factory=Counter)
    relationships: Counter = field(default_factory=Counter)
    ground_truth: int = 0
    duplicates: int = 0
    provenance: int = 0
    replaced: int = 0
    seconds: float = 0.0
    replace_seconds: float = 0.0  # part of ``seconds`` spent deleting earlier demo data

    @property
    def entity_total(self) -> int:
        return sum(self.entities.values())

    @property
    def relationship_total(self) -> int:
        return sum(self.relationships.values())

    def payload(self, seed: int) -> dict:
        return {
            "seed": seed,
            "generator_version": GENERATOR_VERSION,
            "entities": dict(sorted(self.entities.items())),
            "relationships": dict(sorted(self.relationships.items())),
            "ground_truth": self.ground_truth,
            "duplicates": self.duplicates,
            "provenance": self.provenance,
            "replaced_entities": self.replaced,
        }


ENTITY_COPY = (
    "COPY core_entity (id, tenant_id, kind, display_name, attributes, sensitivity, labels, created_at, updated_at) "
    "FROM STDIN"
)
ENTITY_TYPES = ["uuid", "int8", "text", "text", "text", "int2", "text[]", "timestamptz", "timestamptz"]
PROVENANCE_COPY = (
    "COPY core_provenance (tenant_id, source_id, entity_id, fields, method, record_ref, recorded_at) FROM STDIN"
)
PROVENANCE_TYPES = ["int8", "int8", "uuid", "text[]", "text", "text", "timestamptz"]
RELATIONSHIP_COPY = (
    "COPY core_relationship (id, tenant_id, kind, from_entity_id, to_entity_id, attributes, sensitivity, "
    "created_at, updated_at) FROM STDIN"
)
RELATIONSHIP_TYPES = ["uuid", "int8", "text", "uuid", "uuid", "text", "int2", "timestamptz", "timestamptz"]
TRUTH_COPY = "COPY core_groundtruthlabel (tenant_id, entity_id, identity, variation) FROM STDIN"
TRUTH_TYPES = ["int8", "uuid", "text", "text"]
SEEDED_TABLES = (Entity, Relationship, Provenance, GroundTruthLabel)


def _copy_batch(cursor, batch: _Batch, *, tenant_id: int, source_id: int, seed: int, now: datetime, first: int) -> None:
    """Write one batch with four COPY statements (entities first: the others point at them)."""
    # Text-format COPY: attributes go as JSON text and PostgreSQL parses them into jsonb.
    with cursor.copy(ENTITY_COPY) as copy:
        copy.set_types(ENTITY_TYPES)
        for entity_id, kind, name, attributes, sensitivity, labels in batch.entities:
            copy.write_row((entity_id, tenant_id, kind, name, attributes, sensitivity, labels, now, now))
    with cursor.copy(PROVENANCE_COPY) as copy:
        copy.set_types(PROVENANCE_TYPES)
        method = ProvenanceMethod.DEMO.value
        for number, row in enumerate(batch.entities, start=first + 1):
            copy.write_row((tenant_id, source_id, row[0], [], method, f"seed {seed} record {number}", now))
    with cursor.copy(RELATIONSHIP_COPY) as copy:
        copy.set_types(RELATIONSHIP_TYPES)
        for rel_id, kind, from_id, to_id, attributes, sensitivity in batch.relationships:
            copy.write_row((rel_id, tenant_id, kind, from_id, to_id, attributes, sensitivity, now, now))
    with cursor.copy(TRUTH_COPY) as copy:
        copy.set_types(TRUTH_TYPES)
        for entity_id, identity, variation in batch.truths:
            copy.write_row((tenant_id, entity_id, identity, variation))
    # The graph projection hears of the batch through the outbox, in the same transaction.
    outbox_add_sql(cursor, tenant_id=tenant_id, kind="entity", ids=[row[0] for row in batch.entities])
    outbox_add_sql(cursor, tenant_id=tenant_id, kind="relationship", ids=[row[0] for row in batch.relationships])


# ============================================================================ services


def default_slugs(count: int) -> list[str]:
    """The pilot tenants' slugs: pilot-north, pilot-south, pilot-east, pilot-west, then pilot-5, ..."""
    return [DEFAULT_SLUGS[i] if i < len(DEFAULT_SLUGS) else f"pilot-{i + 1}" for i in range(count)]


def demo_source(*, tenant: Tenant) -> Source | None:
    return Source.objects.filter(tenant=tenant, kind=SourceKind.DEMO, name=DEMO_SOURCE_NAME).first()


def demo_tenant_state(*, slugs: Sequence[str]) -> dict[str, dict]:
    """For each slug: whether the tenant exists, how many entities it has and how many came from demo data."""
    state = {slug: {"exists": False, "entities": 0, "demo_entities": 0} for slug in slugs}
    for tenant in Tenant.objects.filter(slug__in=slugs):
        source = demo_source(tenant=tenant)
        state[tenant.slug] = {
            "exists": True,
            "entities": Entity.objects.filter(tenant=tenant).count(),
            "demo_entities": Provenance.objects.filter(source=source, entity__isnull=False).count() if source else 0,
        }
    return state


def validate_seed_request(*, slugs: Sequence[str], entities) -> None:
    """Raise ValidationError for arguments that cannot be seeded."""
    if not slugs:
        raise ValidationError("Seed at least one tenant (--tenants must be 1 or more).", code="no_tenants")
    if len(set(slugs)) != len(slugs):
        raise ValidationError("Each tenant slug may be given once.", code="duplicate_slug")
    bad = [slug for slug in slugs if not isinstance(slug, str) or not services.SLUG_RE.match(slug)]
    if bad:
        raise ValidationError(
            f"Invalid tenant slug {bad[0]!r}: use 1-63 lower-case letters, digits and hyphens.", code="invalid_slug"
        )
    if isinstance(entities, bool) or not isinstance(entities, int) or entities < 1:
        raise ValidationError(f"--entities must be a positive number, not {entities!r}.", code="invalid_entities")
    if entities < len(slugs):
        raise ValidationError(
            f"--entities {entities} is the total across tenants; give at least one per tenant ({len(slugs)}).",
            code="too_few_entities",
        )


def check_no_demo_data(*, slugs: Sequence[str]) -> None:
    """Raise ValidationError if any of the tenants already holds demo data."""
    seeded = [slug for slug, state in demo_tenant_state(slugs=slugs).items() if state["demo_entities"]]
    if seeded:
        have = "has" if len(seeded) == 1 else "have"
        raise ValidationError(
            f"{', '.join(seeded)} already {have} demo data; use --replace to delete it and seed again.",
            code="has_demo_data",
        )


def demo_seed(
    *, slugs: Sequence[str], entities: int, seed: int, replace: bool = False, actor=None,
    progress: Callable[[int], None] | None = None, batch_size: int = BATCH_SIZE,
) -> list[TenantSeedResult]:  # fmt: skip
    """Generate ``entities`` demo entities split evenly over the tenants ``slugs`` (created when missing).

    Each tenant is written in its own transaction, ending with one ``demo.seeded``
    audit event; a tenant that already holds demo data is refused unless
    ``replace`` is set, in which case its demo entities are deleted first.
    ``progress`` is called with the number of entities after each batch.
    """
    validate_seed_request(slugs=slugs, entities=entities)
    if not replace:
        check_no_demo_data(slugs=slugs)
    results = []
    for position, (slug, count) in enumerate(zip(slugs, split_evenly(entities, len(slugs)), strict=True)):
        results.append(
            _seed_tenant(slug=slug, position=position, count=count, seed=seed, replace=replace, actor=actor,
                         progress=progress, batch_size=batch_size)
        )  # fmt: skip
    with connection.cursor() as cursor:
        # Fresh statistics, so the planner does not treat the new rows as an empty table.
        cursor.execute("ANALYZE " + ", ".join(model._meta.db_table for model in SEEDED_TABLES))
    return results


def _seed_tenant(*, slug, position, count, seed, replace, actor, progress, batch_size) -> TenantSeedResult:
    started = time.perf_counter()
    with transaction.atomic():
        tenant = Tenant.objects.select_for_update().filter(slug=slug).first()
        result = TenantSeedResult(slug=slug, created_tenant=tenant is None)
        if tenant is None:
            # Its audit event is recorded at the end, with demo.seeded: recording it now would take the audit
            # chain's lock for the whole load (minutes for millions of rows) and stall every audited request.
            tenant = services.tenant_create(
                slug=slug,
                name=slug.replace("-", " ").title(),
                actor=actor,
                feature_flags=dict(TENANT_FEATURE_FLAGS),
                audit_now=False,
            )
        source = services.source_get_or_create(
            tenant=tenant, name=DEMO_SOURCE_NAME, kind=SourceKind.DEMO, uri="manage.py seed_demo"
        )
        if replace:
            result.replaced = demo_data_delete(tenant=tenant)
            result.replace_seconds = time.perf_counter() - started
        elif Provenance.objects.filter(source=source).exists():  # seeded meanwhile by another run
            raise ValidationError(f"{slug} already has demo data; use --replace.", code="has_demo_data")
        generator = TenantGenerator(seed=seed, position=position, slug=slug, total=count, batch_size=batch_size)
        now = timezone.now()
        written = 0
        with connection.cursor() as cursor:
            # Check foreign keys per COPY statement rather than at commit, so the queue of
            # pending checks stays one batch long instead of growing with the whole tenant.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            for batch in generator.batches():
                with connection.wrap_database_errors:  # psycopg errors surface as Django's, as elsewhere
                    _copy_batch(cursor.cursor, batch, tenant_id=tenant.pk, source_id=source.pk, seed=seed, now=now,
                                first=written)  # fmt: skip
                written += len(batch.entities)
                result.entities.update(row[1] for row in batch.entities)
                result.relationships.update(row[1] for row in batch.relationships)
                result.ground_truth += len(batch.truths)
                result.duplicates += batch.duplicates
                if progress:
                    progress(len(batch.entities))
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")  # Django's default for its deferrable foreign keys
        result.provenance = written
        result.entities = Counter({str(kind): n for kind, n in result.entities.items()})
        if result.created_tenant:
            services.tenant_created_record(tenant=tenant, actor=actor)
        audit.record("demo.seeded", actor=actor, tenant=tenant, target=source, payload=result.payload(seed))
    result.seconds = time.perf_counter() - started
    return result


def demo_data_delete(*, tenant: Tenant) -> int:
    """Delete the tenant's demo entities with their relationships, provenance and ground truth.

    Demo entities are those with provenance from the tenant's demo source. Rows of
    other apps that point at them follow their ``on_delete`` (cascade, set null,
    or refuse); a non-demo entity merged into a demo one is refused. Returns the
    number of entities deleted. Runs in the caller's transaction.
    """
    source = demo_source(tenant=tenant)
    if source is None:
        return 0
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("CREATE TEMP TABLE demo_doomed_entity (id uuid PRIMARY KEY)")
        cursor.execute("CREATE TEMP TABLE demo_doomed_relationship (id uuid PRIMARY KEY)")
        cursor.execute(
            "INSERT INTO demo_doomed_entity SELECT DISTINCT entity_id FROM core_provenance "
            "WHERE tenant_id = %s AND source_id = %s AND entity_id IS NOT NULL",
            [tenant.pk, source.pk],
        )
        cursor.execute(
            "INSERT INTO demo_doomed_relationship SELECT id FROM core_relationship "
            "WHERE from_entity_id IN (SELECT id FROM demo_doomed_entity) "
            "UNION SELECT id FROM core_relationship WHERE to_entity_id IN (SELECT id FROM demo_doomed_entity)"
        )
        cursor.execute("ANALYZE demo_doomed_entity, demo_doomed_relationship")
        # Deleting a node removes its edges from the projection too.
        cursor.execute(
            "INSERT INTO graph_outboxevent (tenant_id, kind, object_id, op, created_at, attempts, last_error) "
            "SELECT %s, 'entity', id, 'delete', now(), 0, '' FROM demo_doomed_entity",
            [tenant.pk],
        )
        transaction.on_commit(drain_soon)
        cursor.execute(
            "SELECT count(*) FROM core_entity e WHERE e.merged_into_id IN (SELECT id FROM demo_doomed_entity) "
            "AND NOT EXISTS (SELECT 1 FROM demo_doomed_entity d WHERE d.id = e.id)"
        )
        if cursor.fetchone()[0]:
            raise ValidationError(
                f"Some entities of {tenant.slug} that are not demo data are merged into demo entities; "
                "undo those merges before replacing the demo data.",
                code="merged_into_demo",
            )
        _clear_dependents(Entity, Entity._base_manager.filter(pk__in=models.expressions.RawSQL(
            "SELECT id FROM demo_doomed_entity", [])))  # fmt: skip
        _clear_dependents(Relationship, Relationship._base_manager.filter(pk__in=models.expressions.RawSQL(
            "SELECT id FROM demo_doomed_relationship", [])))  # fmt: skip
        cursor.execute("DELETE FROM core_groundtruthlabel WHERE entity_id IN (SELECT id FROM demo_doomed_entity)")
        cursor.execute("DELETE FROM core_provenance WHERE relationship_id IN (SELECT id FROM demo_doomed_relationship)")
        cursor.execute("DELETE FROM core_provenance WHERE entity_id IN (SELECT id FROM demo_doomed_entity)")
        cursor.execute("DELETE FROM core_relationship WHERE id IN (SELECT id FROM demo_doomed_relationship)")
        cursor.execute("DELETE FROM core_entity WHERE id IN (SELECT id FROM demo_doomed_entity)")
        deleted = cursor.rowcount
        cursor.execute("DROP TABLE demo_doomed_entity, demo_doomed_relationship")
    return deleted


def _clear_dependents(model, doomed) -> None:
    """Apply on_delete for rows of other models that point at the doomed rows (the core tables are done in SQL)."""
    for relation in model._meta.related_objects:
        related = relation.related_model
        if related in SEEDED_TABLES:
            continue
        if relation.many_to_many:
            through = relation.through
            through._base_manager.filter(**{f"{relation.field.m2m_reverse_field_name()}__in": doomed}).delete()
            continue
        name = relation.field.name
        rows = related._base_manager.filter(**{f"{name}__in": doomed})
        if relation.on_delete is models.DO_NOTHING:
            continue
        if relation.on_delete is models.CASCADE:
            rows.delete()
        elif relation.on_delete is models.SET_NULL:
            rows.update(**{name: None})
        elif rows.exists():
            raise ValidationError(
                f"{related._meta.verbose_name_plural} still refer to demo {model._meta.verbose_name_plural}; "
                "remove them before replacing the demo data.",
                code="protected",
            )
